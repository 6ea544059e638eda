#!/usr/bin/env bash
# Applies the SQL migrations of a schema directory to one database.
#
#   deploy/migrate.sh CONNINFO SCHEMA_DIR
#
# Files are named NNN_name.sql (NNN: decimal version, unique) and applied in
# version order, each in its own transaction together with its row in
# schema_version (version, name, sha256, applied_at). Applied versions are
# skipped, so a second run applies nothing; a file whose content changed after
# it was applied is an error (write a new migration instead). A migration
# file must not contain its own BEGIN/COMMIT. CONNINFO needs a role that may
# create roles and tables (the cluster's superuser in the local stack).
# Prints one line per applied file and a final "migrate: N applied, M already
# applied" line.
set -euo pipefail
prog=migrate.sh
die() { echo "$prog: error: $*" >&2; exit 1; }

[ $# -eq 2 ] || { echo "usage: deploy/migrate.sh CONNINFO SCHEMA_DIR" >&2; exit 2; }
conninfo=$1
dir=$2
[ -d "$dir" ] || die "$dir is not a directory"
# awk would read a relative operand with '=' in it as an assignment.
case $dir in /* | ./* | ../*) ;; *) dir=./$dir ;; esac

export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}
psql_run() {
	psql -X -q -At -v ON_ERROR_STOP=1 --set=SHOW_CONTEXT=errors "$conninfo" "$@"
}

# For each SQL file, the first statement that ends or starts a transaction
# (or a psql backslash command, such as \connect), at its top level:
# outside comments, quoted strings and dollar-quoted bodies (DO and function
# bodies have their own BEGIN and END); or a comment, string or body left
# open at the end of the file, which would swallow what follows it in the
# one psql session that applies the files, or a last statement without its
# ';', which would swallow the schema_version row after it. Prints "FILE<TAB>what" for each
# such file, nothing for the others; one awk for all files. A COMMIT in a
# file (in any spelling: COMMIT WORK, END, ...) would commit what came
# before it without its schema_version row, and a failure after it would
# leave half a migration that the next run applies again.
# (E'...' strings with \' inside are not read as such, and a CASE ... END
# inside a BEGIN ATOMIC body ends it early: a refusal, not a miss.)
txn_control() {
	awk "$txn_awk" "$@"
}
txn_awk=$(cat <<'AWK'
FNR == 1 && NR > 1 { scan(prev, text); text = "" }
{ text = text $0 "\n"; prev = FILENAME }
END { if (NR > 0) scan(prev, text) }
function scan(file, text,   n, i, c, c2, j, depth, q, tag, rest, stmt, closed) {
	n = length(text); i = 1; stmt = ""
	while (i <= n) {
		c = substr(text, i, 1); c2 = substr(text, i, 2)
		if (c2 == "--") { j = index(substr(text, i), "\n"); i = j ? i + j - 1 : n + 1; continue }
		if (c2 == "/*") { depth = 1; i += 2
			while (i <= n && depth > 0) { c2 = substr(text, i, 2)
				if (c2 == "/*") { depth++; i += 2 } else if (c2 == "*/") { depth--; i += 2 } else i++ }
			if (depth > 0) return found(file, "a comment left open")
			stmt = stmt " "; continue }
		if (c == "'" || c == "\"") { q = c; i++; closed = 0
			while (i <= n) { if (substr(text, i, 1) == q) { if (substr(text, i + 1, 1) == q) { i += 2; continue } i++; closed = 1; break } i++ }
			if (!closed) return found(file, "a quoted string left open")
			stmt = stmt " x "; continue }
		if (c == "$" && match(substr(text, i), /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/)) {
			tag = substr(text, i, RLENGTH); rest = substr(text, i + RLENGTH)
			j = index(rest, tag)
			if (!j) return found(file, "a dollar-quoted body left open")
			i = i + RLENGTH + j - 1 + RLENGTH
			stmt = stmt " x "; continue }
		if (c == "\\") return found(file, "a psql command (\\" substr(text, i + 1, 12) ")")
		# A BEGIN ATOMIC body (SQL-standard function) ends at its END.
		if (c == ";" && toupper(stmt) ~ /BEGIN[ \t\r\n\f\v]+ATOMIC/ &&
		    toupper(stmt) !~ /[ \t\r\n\f\v]END[ \t\r\n\f\v]*$/) { stmt = stmt c; i++; continue }
		if (c == ";") { if (check(file, stmt)) return; stmt = ""; i++; continue }
		stmt = stmt c; i++
	}
	if (!check(file, stmt) && stmt ~ /[^ \t\r\n\f\v]/)
		found(file, "a last statement without its ';'")
}
function found(file, what) { print file "\t" what; return 1 }
function check(file, s,   w) {
	gsub(/^[ \t\r\n\f\v]+/, "", s); s = toupper(s)
	split(s, w, /[ \t\r\n\f\v]+/)
	if (w[1] ~ /^(BEGIN|COMMIT|ROLLBACK|END|ABORT|SAVEPOINT|RELEASE)$/ ||
	    (w[1] == "START" && w[2] == "TRANSACTION") ||
	    (w[1] == "PREPARE" && w[2] == "TRANSACTION"))
		return found(file, w[1] (w[2] != "" ? " " w[2] : ""))
	return 0
}
AWK
)

# Collect and check the files before touching the database.
declare -A file_of=()
versions=()
shopt -s nullglob
for f in "$dir"/*.sql; do
	base=${f##*/}
	[[ $base =~ ^([0-9]{3,})_[A-Za-z0-9_]+\.sql$ ]] ||
		die "$f: migration files are named NNN_name.sql (letters, digits, _)"
	v=$((10#${BASH_REMATCH[1]}))
	[ -z "${file_of[$v]:-}" ] || die "version $v twice: ${file_of[$v]##*/} and $base"
	file_of[$v]=$f
	versions+=("$v")
done
shopt -u nullglob
[ ${#versions[@]} -gt 0 ] || die "no NNN_*.sql files in $dir"
tc=$(txn_control "${file_of[@]}") || die "awk failed on $dir"
if [ -n "$tc" ]; then
	f=${tc%%$'\t'*}
	tc=${tc#*$'\t'}
	tc=${tc%%$'\n'*}
	case $tc in
	*"left open" | *"without its ';'") die "$f has $tc at its end" ;;
	*) die "$f has its own transaction control ($tc); migrate.sh wraps each file in one transaction" ;;
	esac
fi
mapfile -t versions < <(printf '%s\n' "${versions[@]}" | sort -n)

psql_run <<'EOF' || die "cannot create schema_version (is the database reachable?)"
SET client_min_messages = warning;
CREATE TABLE IF NOT EXISTS schema_version (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	sha256     text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
);
EOF

declare -A applied_sum=()
rows=$(psql_run -c 'SELECT version, sha256 FROM schema_version ORDER BY version') ||
	die "cannot read schema_version"
while IFS='|' read -r v sum; do
	[ -n "$v" ] && applied_sum[$v]=$sum
done <<<"$rows"

# The files not applied yet, in one psql session (one start-up and
# connection, not one per file), each in a transaction of its own: a lock so
# concurrent runs queue, a re-check under the lock, the file, its
# schema_version row, then a line naming it. Streamed on stdin so the files
# need not be readable by the database's OS user. psql stops at the first
# error (ON_ERROR_STOP): the files before it stay applied, as separate runs
# would have left them; nothing of the failing one is.
declare -A sum_of=()
# One sha256sum for all, on the base names (checked above: nothing to escape).
sums=$(CDPATH='' cd -- "$dir" && for v in "${versions[@]}"; do printf '%s\0' "${file_of[$v]##*/}"; done |
	xargs -0 sha256sum --) || die "cannot read the files of $dir"
while read -r sum base; do
	sum_of[$base]=$sum
done <<<"$sums"
n_skipped=0
pending=()
for v in "${versions[@]}"; do
	f=${file_of[$v]}
	base=${f##*/}
	sum=${sum_of[$base]:?}
	if [ -n "${applied_sum[$v]:-}" ]; then
		[ "${applied_sum[$v]}" = "$sum" ] ||
			die "$base was applied with different content (sha256 ${applied_sum[$v]}); do not edit applied migrations, add a new file (or recreate a throw-away database)"
		n_skipped=$((n_skipped + 1))
		continue
	fi
	pending+=("$v:$sum")
done
n_applied=0
if [ ${#pending[@]} -gt 0 ]; then
	rc=0
	out=$(
		for p in "${pending[@]}"; do
			v=${p%%:*}
			sum=${p#*:}
			f=${file_of[$v]}
			base=${f##*/}
			echo "BEGIN;"
			# Never wait forever behind a running daemon's lock.
			echo "SET LOCAL lock_timeout = '${PKI_MIGRATE_LOCK_TIMEOUT:-60s}';"
			echo "SELECT pg_advisory_xact_lock(7436598265);"
			echo "DO \$migrate\$ BEGIN IF EXISTS (SELECT 1 FROM schema_version WHERE version = $v) THEN RAISE EXCEPTION 'migration $v was applied concurrently; run migrate.sh again'; END IF; END \$migrate\$;"
			# Unreadable now: psql meets the end inside BEGIN (rolled back).
			cat -- "$f" || exit 1
			echo
			echo "INSERT INTO schema_version (version, name, sha256) VALUES ($v, '$base', '$sum');"
			echo "COMMIT;"
			# What a file SET or created for its session ends with it,
			# as when each file had a psql of its own.
			echo "DISCARD ALL;"
			echo "\\echo migrate: applied $base"
		done | psql_run -f -
	) || rc=$?
	for p in "${pending[@]}"; do
		f=${file_of[${p%%:*}]}
		base=${f##*/}
		if ! grep -qxF "migrate: applied $base" <<<"$out"; then
			[ "$rc" -ne 0 ] || die "psql ended without applying $base"
			die "$base failed; nothing of it was applied"
		fi
		echo "migrate: applied $base"
		n_applied=$((n_applied + 1))
	done
	[ "$rc" -eq 0 ] || die "psql failed (status $rc) after every file was applied"
fi
echo "migrate: $n_applied applied, $n_skipped already applied"
