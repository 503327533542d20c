/**
 * The fixed POSIX sh scripts a remote destination runs (see ./ssh.ts). Arguments arrive as
 * "$1"…; snapshot names are checked against the snapshot-id pattern before they get here.
 * Exit 3 is an answer ("not there", "already exists"), exit 2 a failure with a message on stderr.
 */
export const SCRIPTS = {
  /** Every snapshot folder with its snapshot.json, verification.json and pin, length-framed. */
  list: `
cd -- "$1" 2>/dev/null || exit 0
for n in * .partial-*; do
  case $n in *[!A-Za-z0-9._:-]*) continue ;; esac
  [ -d "$n" ] && [ ! -L "$n" ] || continue
  printf 'entry %s\\n' "$n"
  for f in snapshot.json verification.json .pinned; do
    [ -f "$n/$f" ] || continue
    printf 'file %s %s\\n' "$f" "$(stat -c %s -- "$n/$f")"
    cat -- "$n/$f"
  done
done`,

  /** Names in the folder, one per line; none when it does not exist. */
  names: `ls -A -- "$1" 2>/dev/null || true`,

  /** Creates "$1" holding "$2" only if it does not exist (noclobber is O_EXCL): exit 3 if it does. */
  create: `
mkdir -p -- "$(dirname -- "$1")" || exit 2
if ( set -C; printf '%s\\n' "$2" > "$1" ) 2>/dev/null; then sync -- "$1" 2>/dev/null; exit 0; fi
[ -e "$1" ] && exit 3
echo "cannot create $1" >&2; exit 2`,

  /** A snapshot file's bytes, streamed (ls); a failure when it is not there. */
  stream: `cat -- "$1"`,

  /** Every entry under the folder "$1" in the format "$2" (folder-listing.ts: FIND_FORMAT). */
  find: `find "$1" -mindepth 1 -printf "$2"`,

  /** The file's content; exit 3 if it is not there. */
  read: `cat -- "$1" 2>/dev/null || exit 3`,

  /** stdin into "$1", atomically (a temporary file, fsynced, renamed over it). */
  write: `
tmp="$1.tmp.$$"
if cat > "$tmp" && sync -- "$tmp" && mv -f -- "$tmp" "$1"; then exit 0; fi
rm -f -- "$tmp"; exit 2`,

  remove: `rm -f -- "$@"`,

  /** "BYTES MTIME NOW" (seconds, NOW by this host's clock, to age the file by one clock); exit 3 if it is not there. */
  stat: `
s=$(stat -c '%s %Y' -- "$1" 2>/dev/null) || exit 3
printf '%s %s\\n' "$s" "$(date +%s)"`,

  mkdir: `mkdir -p -m 700 -- "$@"`,

  /**
   * Deletes snapshot folders of "$1": a complete one is first renamed to .partial-<id>, so that a
   * delete killed halfway leaves something the next run clears, never a broken snapshot.
   */
  delete: `
cd -- "$1" || exit 2
shift
for n; do
  [ -e "$n" ] || continue
  case $n in .partial-*) ;; *) mv -T -- "$n" ".partial-$n" || exit 2; n=".partial-$n" ;; esac
  rm -rf -- "$n" || exit 2
done`,

  /**
   * sha256sum lines for every file under "$2" (relative to "$1"), sorted, then one line
   * "# FILES BYTES" (a hard-linked file counted once, as tar counts it). A sum line never starts
   * with "#".
   */
  sums: `
cd -- "$1" || exit 2
find "$2" -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum -- || exit 2
find "$2" -type f -printf '%n %i %s\\n' | awk '$1 > 1 && seen[$2]++ { next } { n++; b += $3 } END { printf "# %.0f %.0f\\n", n, b }'`,

  /** For each file argument after "$1": "INDEX BYTES SHA256", or "INDEX missing". */
  hash: `
cd -- "$1" || exit 2
shift
i=0
for f; do
  if [ -f "$f" ]; then
    printf '%s %s %s\\n' "$i" "$(stat -c %s -- "$f")" "$(sha256sum < "$f" | cut -c1-64)"
  else
    printf '%s missing\\n' "$i"
  fi
  i=$((i + 1))
done`,

  /** Points latest at "$2" in "$1" (a new link renamed over the old one); no "$2" removes it. */
  link: `
cd -- "$1" || exit 2
if [ -z "$2" ]; then rm -f -- latest; exit 0; fi
ln -sfn -- "$2" .latest.tmp && mv -T -- .latest.tmp latest || exit 2`,

  /**
   * sha256sum -c of the list "$2" inside "$1": one "PATH: OK|FAILED…" line per file. A list of
   * "$4" bytes or more is dealt to up to "$3" checkers, one per remote core (as the local kind
   * does); each writes to its own file, so no line is cut by another's.
   */
  check: `
cd -- "$1" || exit 2
n=$(nproc 2>/dev/null) || n=1
[ "$n" -gt "$3" ] && n=$3
if [ "$n" -lt 2 ] || [ "$(stat -c %s -- "$2" 2>/dev/null || echo 0)" -lt "$4" ]; then sha256sum -c -- "$2" 2>/dev/null; exit 0; fi
out=$(mktemp -d) || exit 2
trap 'rm -rf -- "$out"' EXIT
trap 'exit 2' HUP INT TERM
i=1
while [ "$i" -le "$n" ]; do
  split -n "r/$i/$n" -- "$2" | sha256sum -c - > "$out/$i" 2>/dev/null &
  i=$((i + 1))
done
wait
cat -- "$out"/*
exit 0`,

  /**
   * Publishes .partial-"$2" in "$1": flush, refuse to overwrite, rename (the commit), then point
   * latest at it (a new link renamed over the old one).
   */
  publish: `
cd -- "$1" || exit 2
p=".partial-$2"
sync -f -- "$p" 2>/dev/null || sync
if [ -e "$2" ]; then echo "$2 already exists" >&2; exit 2; fi
mv -T -- "$p" "$2" || exit 2
ln -sfn -- "$2" .latest.tmp && mv -T -- .latest.tmp latest || exit 2
sync -f -- . 2>/dev/null || sync`,
} as const;

export type RemoteOp = keyof typeof SCRIPTS;
