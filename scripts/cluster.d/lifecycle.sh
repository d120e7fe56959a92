# Helpers on recorded components (sourced with $dir set): DIR/pids/NAME holds
# the pid, DIR/cmd/NAME the command line `up` started it with.
component_pid() { cat "$dir/pids/$1" 2>/dev/null; }
component_alive() {
    local pid
    pid=$(component_pid "$1") && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}
stop_component() { # NAME SIGNAL: signal, wait up to 20 s, then SIGKILL
    local name=$1 sig=$2 pid
    pid=$(component_pid "$name") || return 0
    [ -n "$pid" ] || return 0
    kill -"$sig" "$pid" 2>/dev/null || return 0
    for _ in $(seq 200); do
        kill -0 "$pid" 2>/dev/null || return 0
        # a zombie (parent gone, not reaped yet) counts as stopped
        [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
}
start_component() { # NAME: again, with the recorded command line
    local name=$1
    [ -f "$dir/cmd/$name" ] || { echo "cluster: no recorded command for $name" >&2; return 1; }
    eval "setsid $(cat "$dir/cmd/$name") >>\"\$dir/logs/\$name.log\" 2>&1 </dev/null &"
    echo $! >"$dir/pids/$name"
}
