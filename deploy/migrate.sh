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

export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}
psql_run() {
	psql -X -q -At -v ON_ERROR_STOP=1 --set=SHOW_CONTEXT=errors "$conninfo" "$@"
}

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
	if grep -qiE '^[[:space:]]*(BEGIN|COMMIT|ROLLBACK|START[[:space:]]+TRANSACTION)[[:space:]]*;' "$f"; then
		die "$f has its own transaction control; migrate.sh wraps each file in one transaction"
	fi
	file_of[$v]=$f
	versions+=("$v")
done
shopt -u nullglob
[ ${#versions[@]} -gt 0 ] || die "no NNN_*.sql files in $dir"
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

n_applied=0
n_skipped=0
for v in "${versions[@]}"; do
	f=${file_of[$v]}
	base=${f##*/}
	sum=$(sha256sum <"$f" | cut -d' ' -f1)
	if [ -n "${applied_sum[$v]:-}" ]; then
		[ "${applied_sum[$v]}" = "$sum" ] ||
			die "$base was applied with different content (sha256 ${applied_sum[$v]}); do not edit applied migrations, add a new file (or recreate a throw-away database)"
		n_skipped=$((n_skipped + 1))
		continue
	fi
	# One transaction: a lock so concurrent runs queue, a re-check under the
	# lock, the file, its schema_version row. Streamed on stdin so the file
	# need not be readable by the database's OS user.
	if ! {
		echo "BEGIN;"
		# Never wait forever behind a running daemon's lock.
		echo "SET LOCAL lock_timeout = '${PKI_MIGRATE_LOCK_TIMEOUT:-60s}';"
		echo "SELECT pg_advisory_xact_lock(7436598265);"
		echo "DO \$migrate\$ BEGIN IF EXISTS (SELECT 1 FROM schema_version WHERE version = $v) THEN RAISE EXCEPTION 'migration $v was applied concurrently; run migrate.sh again'; END IF; END \$migrate\$;"
		cat -- "$f"
		echo
		echo "INSERT INTO schema_version (version, name, sha256) VALUES ($v, '$base', '$sum');"
		echo "COMMIT;"
	} | psql_run -f - >/dev/null; then
		die "$base failed; nothing of it was applied"
	fi
	echo "migrate: applied $base"
	n_applied=$((n_applied + 1))
done
echo "migrate: $n_applied applied, $n_skipped already applied"
