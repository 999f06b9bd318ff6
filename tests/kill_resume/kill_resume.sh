#!/usr/bin/env bash
# Kill and resume (issue 15): trains with a checkpoint every epoch, SIGKILLs the trainer at random moments KILLS
# times, resuming from the last checkpoint each time; then checks that every checkpoint loaded, the run finished, no
# temporary file is left, and the final weights and optimizer state equal an uninterrupted run's bit for bit.
#   tests/kill_resume/kill_resume.sh path/to/chainrule_kill_resume [KILLS] [SEED]
set -euo pipefail
trainer=$1 kills=${2:-20}
RANDOM=${3:-15}  # the kill moments are random but reproducible
work=$(mktemp -d "${TMPDIR:-/tmp}/chainrule_kill_resume.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/reference" "$work/killed"

start=$(date +%s%N)
"$trainer" train "$work/reference" > /dev/null  # the uninterrupted run, timed: the kills fall within a run's time
run_ms=$((($(date +%s%N) - start) / 1000000))

killed=0 loads=0 finished_early=0 with_temporary=0 resumed_from=()
while ((killed < kills)); do
  "$trainer" train "$work/killed" > /dev/null &
  pid=$!
  delay_ms=$((RANDOM * 32768 + RANDOM))
  delay_ms=$((delay_ms % (run_ms + 1)))  # uniform in [0, the uninterrupted run's time]
  sleep "$((delay_ms / 1000)).$(printf '%03d' $((delay_ms % 1000)))"
  if kill -KILL "$pid" 2> /dev/null; then
    wait "$pid" 2> /dev/null || true
    killed=$((killed + 1))
    if [[ -n $(find "$work/killed" -name '*.tmp.*') ]]; then with_temporary=$((with_temporary + 1)); fi
  else
    wait "$pid"  # it finished first: it must have succeeded; start over for a later kill
    finished_early=$((finished_early + 1))
    rm -f "$work/killed"/ckpt.safetensors
    continue
  fi
  if [[ -e $work/killed/ckpt.safetensors ]]; then
    epoch=$("$trainer" check "$work/killed")  # exits 1 (and so fails this script) if the checkpoint does not load
    loads=$((loads + 1))
    resumed_from+=("$epoch")
  else
    resumed_from+=("-")  # killed before the first checkpoint
  fi
done
"$trainer" train "$work/killed" > /dev/null  # resume to the end
left=$(find "$work/killed" -name '*.tmp.*' | wc -l)
echo "uninterrupted run: $run_ms ms; kills: $killed; checkpoints loaded after a kill: $loads;" \
     "runs that finished before their kill: $finished_early"
echo "epoch of the checkpoint after each kill: ${resumed_from[*]}"
echo "kills that left a temporary (mid-save): $with_temporary; temporaries after the resumed run finished: $left"
[[ $left == 0 ]] || { echo "FAIL: temporaries left: $(ls "$work/killed")"; exit 1; }
[[ $("$trainer" check "$work/killed") == $("$trainer" epochs .) ]] || { echo "FAIL: the resumed run did not finish"; exit 1; }
"$trainer" same "$work/reference/ckpt.safetensors" "$work/killed/ckpt.safetensors"
