"""Fits the float erf used by ModelGen.Runtime.Transcendental.Gelu (vectorised): erf(x) = x * P(x^2) for |x| < 1,
1 - exp(Q(|x| - 2.5)) for 1 <= |x| < 4, 1 beyond (erfc(4) is below half a float step of 1). Least squares on
Chebyshev nodes in double; prints the coefficients (lowest degree first) and the fit's error. Needs numpy."""
import math
import numpy as np

P = np.polynomial.polynomial
erf = np.vectorize(math.erf)
erfc = np.vectorize(math.erfc)

xa = np.cos(np.linspace(0, np.pi, 2000)) * 0.5 + 0.5
ya = np.where(xa > 0, erf(xa) / np.where(xa > 0, xa, 1), 2 / math.sqrt(math.pi))
a = P.polyfit(xa ** 2, ya, 6)
xb = np.cos(np.linspace(0, np.pi, 4000)) * 1.5 + 2.5
b = P.polyfit(xb - 2.5, np.log(erfc(xb)), 8)

xs = np.linspace(1e-6, 1, 20001)
print("P", ", ".join(f"{c:.9e}f" for c in a), "max rel err", np.max(np.abs(xs * P.polyval(xs ** 2, a) - erf(xs)) / erf(xs)))
xs = np.linspace(1, 4, 30001)
print("Q", ", ".join(f"{c:.9e}f" for c in b), "max abs err", np.max(np.abs(1 - np.exp(P.polyval(xs - 2.5, b)) - erf(xs))))
