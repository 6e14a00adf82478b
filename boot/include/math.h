/* Freestanding math.h for wasm2c's float operators. Only SSE2 is assumed (QEMU's default
 * CPU has no SSE4.1 round instructions), so rounding is done with integer conversion or
 * the 2^52 trick; everything else maps onto clang builtins that compile to instructions. */
#ifndef BOOT_MATH_H
#define BOOT_MATH_H

#define INFINITY __builtin_inff()
#define NAN __builtin_nanf("")
#define HUGE_VAL __builtin_huge_val()
#define isnan(x) __builtin_isnan(x)
#define isinf(x) __builtin_isinf(x)
#define signbit(x) __builtin_signbit(x)

static inline double fabs(double x) { return __builtin_fabs(x); }
static inline float fabsf(float x) { return __builtin_fabsf(x); }
static inline double copysign(double x, double y) { return __builtin_copysign(x, y); }
static inline float copysignf(float x, float y) { return __builtin_copysignf(x, y); }
static inline double sqrt(double x) { return __builtin_sqrt(x); }
static inline float sqrtf(float x) { return __builtin_sqrtf(x); }

static inline double trunc(double x) {
  if (!(fabs(x) < 0x1p52)) return x; /* NaN, infinities, already integral */
  return copysign((double)(long long)x, x);
}
static inline float truncf(float x) {
  if (!(fabsf(x) < 0x1p23f)) return x;
  return copysignf((float)(int)x, x);
}
static inline double floor(double x) { double t = trunc(x); return t > x ? t - 1.0 : t; }
static inline float floorf(float x) { float t = truncf(x); return t > x ? t - 1.0f : t; }
static inline double ceil(double x) { double t = trunc(x); return t < x ? copysign(t + 1.0, x) : t; }
static inline float ceilf(float x) { float t = truncf(x); return t < x ? copysignf(t + 1.0f, x) : t; }
/* Round to nearest, ties to even (the default rounding mode), as wasm's nearest. */
static inline double nearbyint(double x) {
  if (!(fabs(x) < 0x1p52)) return x;
  volatile double big = 0x1p52;
  double r = (fabs(x) + big) - big;
  return copysign(r, x);
}
static inline float nearbyintf(float x) {
  if (!(fabsf(x) < 0x1p23f)) return x;
  volatile float big = 0x1p23f;
  float r = (fabsf(x) + big) - big;
  return copysignf(r, x);
}
static inline double rint(double x) { return nearbyint(x); }
static inline float rintf(float x) { return nearbyintf(x); }
static inline double fmin(double a, double b) { return __builtin_isnan(a) ? b : __builtin_isnan(b) ? a : (a < b || (a == b && __builtin_signbit(a))) ? a : b; }
static inline double fmax(double a, double b) { return __builtin_isnan(a) ? b : __builtin_isnan(b) ? a : (a > b || (a == b && !__builtin_signbit(a))) ? a : b; }
static inline float fminf(float a, float b) { return (float)fmin(a, b); }
static inline float fmaxf(float a, float b) { return (float)fmax(a, b); }
#endif
