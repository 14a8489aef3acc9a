# Compares two platforms' ModelGen.PlatformCheck outputs (reference first): lines "model kind sample index value";
# "exact" models (integer pipelines) must match bit for bit, "float" ones within 1e-4 of their largest output.
FNR == NR { if (NF == 5) { ref[$1 " " $3 " " $4] = $5; kind[$1] = $2; if ($5 + 0 > mx[$1]) mx[$1] = $5 + 0; if (-$5 > mx[$1]) mx[$1] = -$5 } ; next }
NF == 5 {
  k = $1 " " $3 " " $4; seen[k] = 1; n[$1]++
  if (!(k in ref)) { print "extra output " k; bad = 1; next }
  d = $5 - ref[k]; if (d < 0) d = -d
  if (d > worst[$1]) worst[$1] = d
  if ($2 == "exact" && $5 != ref[k]) { off[$1]++ }
}
END {
  for (k in ref) if (!(k in seen)) { print "missing output " k; bad = 1 }
  for (m in kind) {
    tol = kind[m] == "exact" ? 0 : 1e-4 * (mx[m] > 1 ? mx[m] : 1)
    ok = worst[m] <= tol
    printf "  %-24s %-5s %6d outputs  max |diff| %.2e  (allowed %.1e)%s\n", m, kind[m], n[m], worst[m], tol, ok ? "" : "  FAILED"
    if (!ok) bad = 1
  }
  exit bad
}
