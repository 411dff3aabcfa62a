#!/usr/bin/env bash
# Size limits for the project's C++ sources (docs/architecture.md, "Size limits"):
#   - no source file over 600 lines unless a comment starting "// size:" within its
#     first 20 lines gives the reason;
#   - no function over 80 lines unless a comment starting "// size:" on one of the 3
#     lines above its first line gives the reason.
# A function is a brace block opened on a line at column 0 (free functions, member
# definitions, TEST bodies, top-level lambdas) or, inside a class at column 0, at
# column 2 (inline members), and closed by "}" at the same indentation. The sources are
# clang-formatted (namespaces not indented), which makes this reliable enough.
#   scripts/check-size.sh [FILE...]     default: every tracked *.cc and *.h
set -euo pipefail
cd "$(dirname "$0")/.."
max_file=600
max_function=80
if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(git ls-files '*.cc' '*.h'); fi
status=0
for f in "${files[@]}"; do
  lines=$(wc -l < "$f")
  if [ "$lines" -gt $max_file ] && ! head -n 20 "$f" | grep -q '^// size:'; then
    echo "$f: $lines lines (limit $max_file; write the reason in a '// size:' comment at the top, or split it)"
    status=1
  fi
done
awk -v max=$max_function '
  function report(name, first, last) {
    n = last - first + 1
    if (n > max && !reason[first]) {
      printf "%s:%d: %d-line function (limit %d; write the reason in a \"// size:\" comment above it, or split it): %s\n", FILENAME, first, n, max, name
      bad = 1
    }
  }
  FNR == 1 { depth_fn = ""; in_class = 0; delete reason; split("", recent) }
  {
    line = $0
    if (line ~ /^ *\/\/ size:/) { for (k = 1; k <= 4; ++k) reason[FNR + k] = 1 }
    if (depth_fn == "") {
      if (line ~ /^(class|struct|union) .*\{$/ || line ~ /^(template <.*> )?(class|struct) [A-Za-z_:<>, ]+( final)?( : .*)? \{$/) { in_class = 1; next }
      if (in_class && line ~ /^};/) { in_class = 0; next }
      if (in_class && line ~ /^  [^ \/].*\{$/ && line !~ /^  (public|private|protected):/ && line !~ /^  (class|struct|enum|union) /) {
        depth_fn = "  "; start = FNR; name = line; next
      }
      if (line ~ /^[A-Za-z_~].*\{$/ && line !~ /^(namespace|extern|enum|class|struct|union)( |$)/) {
        depth_fn = "0"; start = FNR; name = line; next
      }
      # a signature over several lines: its first line at column 0, the brace on a later indented line
      if (line ~ /^[A-Za-z_~][^;{}]*[(,]$/ && line !~ /^(namespace|extern|enum|class|struct|union|template)( |$)/) { pending = FNR; pname = line; next }
      if (pending && line ~ /^ +.*\) .*\{$|^ +.*\{$/ && line !~ /;/) { depth_fn = "0"; start = pending; name = pname; pending = 0; next }
      if (pending && line !~ /^ /) pending = 0
    } else if (depth_fn == "0" && line ~ /^}/) {
      report(name, start, FNR); depth_fn = ""
    } else if (depth_fn == "  " && line ~ /^  }/) {
      report(name, start, FNR); depth_fn = ""
    }
  }
  END { exit bad }
' $(printf '%s\n' "${files[@]}" | grep '\.cc$\|\.h$') || status=1
exit $status
