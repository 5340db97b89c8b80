// Loads and stores of every size, stack, sign-extending loads.
typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

struct pkt {
  u8 a;
  signed char sa;
  u16 b;
  short sb;
  u32 c;
  int sc;
  u64 d;
};

__attribute__((section("kprobe/mem"))) int mem(struct pkt *p) {
  volatile u64 buf[4];
  volatile u32 small[2];
  volatile u16 tiny = 7;
  volatile u8 byte = 3;
  buf[0] = p->a + p->b;
  buf[1] = p->c;
  buf[2] = p->d;
  buf[3] = (long)p->sa + p->sb + p->sc;
  small[0] = 0x12345;
  small[1] = -5;
  p->a = byte;
  p->b = tiny;
  p->c = small[0];
  p->d = buf[1] + buf[2];
  return (int)(buf[0] + buf[3] + small[1]);
}
