/*
 * Doubles through printf and libm at -O2: formatting (%f %e %g %a with
 * rounding), strtod round trips, and libm functions, plus the FP
 * environment (rounding modes and exception flags through fenv.h).
 * Every line is deterministic, so the output can be compared with
 * qemu-riscv64's, which implements the F/D extensions in software too.
 */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* A value the compiler cannot see through, so operations run at run time
 * (and raise their flags) instead of being folded at compile time. */
static double vd(double x)
{
	volatile double v = x;
	return v;
}

int main(void)
{
	double vals[] = { 0.0, -0.0, 1.0, -1.5, 0.1, 1.0 / 3.0, 2.5, 3.5, 1e300, 1e-300,
			  DBL_MAX, DBL_MIN, DBL_MIN / 8, 123456789.125, M_PI, -M_E };
	for (unsigned i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		double v = vals[i];
		printf("%.17g | %f | %.3e | %g | %a\n", v, v, v, v, v);
	}
	printf("inf=%f -inf=%f nan=%f\n", vd(INFINITY), -vd(INFINITY), vd(NAN));

	const char *texts[] = { "0.1", "2.2250738585072014e-308", "4.9e-324", "1e400", "-0x1.8p+1",
				"123.456e-7", "nan", "-inf" };
	for (unsigned i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		double d = strtod(texts[i], NULL);
		float f = strtof(texts[i], NULL);
		printf("strtod(%s) = %a, strtof = %a\n", texts[i], d, (double)f);
	}

	double x = vd(0.7);
	printf("sin %.17g cos %.17g tan %.17g\n", sin(x), cos(x), tan(x));
	printf("exp %.17g log %.17g log10 %.17g pow %.17g\n", exp(x), log(x), log10(x), pow(x, 3.3));
	printf("sqrt %.17g cbrt %.17g hypot %.17g atan2 %.17g\n", sqrt(2.0 * x), cbrt(x), hypot(x, 2.0),
	       atan2(x, -1.0));
	printf("floor %g ceil %g round %g trunc %g rint %g fmod %.17g\n", floor(-2.5), ceil(-2.5),
	       round(-2.5), trunc(-2.5), rint(vd(-2.5)), fmod(10.0, x));
	printf("sinf %.9g expf %.9g sqrtf %.9g\n", (double)sinf((float)x), (double)expf((float)x),
	       (double)sqrtf((float)x));
	printf("fma %a\n", fma(vd(0.1), vd(10.0), vd(-1.0)));

	/* Rounding modes and exception flags through fenv.h (frm and fflags). */
	int modes[] = { FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO };
	const char *names[] = { "nearest", "upward", "downward", "towardzero" };
	for (int i = 0; i < 4; i++) {
		fesetround(modes[i]);
		volatile double third = vd(1.0) / vd(3.0);
		volatile long l = lrint(vd(-2.5));
		fesetround(FE_TONEAREST);
		printf("%-10s 1/3=%a lrint(-2.5)=%ld\n", names[i], third, l);
	}
	feclearexcept(FE_ALL_EXCEPT);
	volatile double r = vd(1.0) / vd(0.0);
	printf("1/0=%f divbyzero=%d\n", r, fetestexcept(FE_DIVBYZERO) != 0);
	feclearexcept(FE_ALL_EXCEPT);
	r = vd(DBL_MAX) * vd(2.0);
	printf("overflow=%d inexact=%d\n", fetestexcept(FE_OVERFLOW) != 0, fetestexcept(FE_INEXACT) != 0);
	feclearexcept(FE_ALL_EXCEPT);
	r = sqrt(vd(-1.0));
	printf("sqrt(-1) invalid=%d\n", fetestexcept(FE_INVALID) != 0);
	feclearexcept(FE_ALL_EXCEPT);
	r = vd(DBL_MIN) / vd(3.0);
	printf("underflow=%d\n", fetestexcept(FE_UNDERFLOW) != 0);
	return 0;
}
