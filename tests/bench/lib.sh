# Sourced by the bench scripts.
# bench_stack_down DIR: stops the stack in DIR/stack and removes DIR. When
# the stop fails, DIR and the stop's output are kept and named on stderr:
# its daemons may still run (once, a bench stack outlived its script this
# way, its directory gone, with no word of why).
bench_stack_down() {
	local dir=$1
	if "$REPO/deploy/stack.sh" down --dir "$dir/stack" >"$dir/down.log" 2>&1; then
		rm -rf -- "$dir"
	else
		echo "bench: stopping the stack in $dir/stack failed; kept, see $dir/down.log:" >&2
		tail -5 "$dir/down.log" >&2
	fi
}
