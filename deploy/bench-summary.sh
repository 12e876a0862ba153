#!/usr/bin/env bash
# Summarises runs of `make bench` (docs/benchmarks.md): one line per run and phase, then the median,
# minimum and maximum of each phase, from the bench.json of each run.
#
#   deploy/bench-summary.sh .local/bench/<stamp> [more run directories or bench.json files...]
#
# Columns: attempts/s over the whole phase, holds/s while places remained, p50 and p99 (ms), oversold
# tickets, the victim's share of its solo attempts/s (attacked phase), the seconds of CPU the
# hypervisor stole during the phase, and, when any run had -max-per-buyer N (its phases are named
# "<phase> limit N"), the tickets that buyers got past the limit ("over-limit"). Needs jq.
set -euo pipefail
command -v jq >/dev/null || { echo "bench-summary: jq is needed" >&2; exit 1; }
(($# > 0)) || { sed -n '2,10p' "$0" >&2; exit 2; }
files=()
for arg in "$@"; do
  if [[ -d $arg ]]; then files+=("$arg/bench.json"); else files+=("$arg"); fi
done
jq -rs '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def r1: if . == null then "-" else (. * 10 | round / 10 | tostring) end;
  def r0: if . == null then "-" else (round | tostring) end;
  [ .[] | .flags.keyed as $keyed | .phases[] | {
      phase: (.phase + (if $keyed == "true" then " keyed" else "" end)
        + (if .buyerLimit == null then "" else " limit \(.buyerLimit.max)" end)),
      attempts: .attemptsPerSecond, holds: .holdsPerSecond, p50: .latency.p50Ms, p99: .latency.p99Ms,
      oversold: .oversold, share: (.victimShare.attemptsShare // null), steal: .machineStealSeconds,
      overLimit: (.buyerLimit.overLimit // null) } ] as $rows
  | ($rows | any(.overLimit != null)) as $limited
  | def ol: if $limited then "\t\(.overLimit // "-")" else "" end;
    ("phase\tattempts/s\tholds/s\tp50\tp99\toversold\tshare\tsteal s" + (if $limited then "\tover-limit" else "" end)),
    ($rows | map("\(.phase)\t\(.attempts | r0)\t\(.holds | r0)\t\(.p50 | r1)\t\(.p99 | r1)\t\(.oversold)\t\(if .share == null then "-" else (.share * 100 | round | tostring) + "%" end)\t\(.steal | r1)\(ol)") | .[]),
    "--",
    ($rows | group_by(.phase)[] | . as $g | "\($g[0].phase): \($g | length) runs; median (min-max): " +
      "attempts/s \($g | map(.attempts) | median | r0) (\($g | map(.attempts) | min | r0)-\($g | map(.attempts) | max | r0)), " +
      "holds/s \($g | map(.holds) | median | r0), p99 \($g | map(.p99) | median | r1) ms (\($g | map(.p99) | min | r1)-\($g | map(.p99) | max | r1)), " +
      "p99 < 25 ms in \($g | map(select(.p99 < 25)) | length), oversold \($g | map(.oversold) | add)" +
      (if $g[0].overLimit == null then "" else ", over-limit \($g | map(.overLimit) | add)" end) +
      (if $g[0].share == null then "" else ", victim share \($g | map(.share * 100) | median | r0)% (\($g | map(.share * 100) | min | r0)-\($g | map(.share * 100) | max | r0)%)" end))
' "${files[@]}" | awk -F'\t' '/^--$/ { table = 0; close("column -t -s \"\t\""); print ""; next }
  table != 0 { print | "column -t -s \"\t\""; next } { print }' table=1
