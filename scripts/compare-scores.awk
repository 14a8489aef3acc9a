# Compares two WakeWord runs' output (reference first): the same frames, the same detection per frame, scores within
# 1e-5, the same "detections:" summary. Prints "<label>: max |score diff| ..." and exits 1 on any difference.
# Usage: awk -v label="..." -f scripts/compare-scores.awk reference.txt other.txt
FNR == NR {
  if ($1 == "frame" && $2 ~ /^[0-9]+$/) { s[$2] = $4; d[$2] = /DETECTED/ }
  if ($1 == "detections:") summary = $0
  next
}
$1 == "frame" && $2 ~ /^[0-9]+$/ {
  n++; if (!($2 in s)) { print "frame " $2 " missing"; bad = 1; next }
  diff = $4 - s[$2]; if (diff < 0) diff = -diff; if (diff > max) max = diff
  if (diff > 1e-5) { print "frame " $2 ": " s[$2] " vs " $4; bad = 1 }
  if (d[$2] != (/DETECTED/ ? 1 : 0)) { print "frame " $2 ": detection differs"; bad = 1 }
}
$1 == "detections:" { other = $0 }
END {
  if (other != summary) { print "detection counts differ: \"" summary "\" vs \"" other "\""; bad = 1 }
  if (n == 0 || n != length(s)) { print "frame counts differ"; bad = 1 }
  printf "%s: max |score diff| %.1e over %d frames\n", label, max, n
  exit bad
}
