#!/usr/bin/env bash
# Trains seer's shipped CIFAR-10 models on the GPU machine (README "Shipped models").
#
# Here, once (git-ignored .data/, sent with the repo: 16.5 + 3.3 + 3.5 MB):
#   tools/train/pack_cifar.py ../shared/data/cifar10/train .data/cifar10-train.pack
#   tools/train/pack_cifar.py ../shared/data/cifar10/test .data/cifar10-test.pack
#   cp ../shared/data/weights/resnet-cifar10/resnet56-4bfd9763.th .data/   # tokenizer loss, ENAT sweep
# There (device tool, carry [".data/cifar10-train.pack", ".data/cifar10-test.pack",
# ".data/resnet56-4bfd9763.th"]; first `scripts/device-slim.sh on` here, or the tree is too
# large to send), jobs named JOB:BUDGET[:STOP] (seconds) run side by side. The commands that
# made assets/models:
#   scripts/gpu-train.sh volo:450 halonet:450 van:450 biformer:450 sparsifiner:450 agent:450 tokenizer:450
#   scripts/gpu-train.sh volo:930 halonet:930 van:930 biformer:930 sparsifiner:930 enat:450
#   scripts/gpu-train.sh enat:820
# (halonet, biformer, sparsifiner, agent, tokenizer and the first enat; eager PyTorch), and for the
# retrained volo and van (torch.compile, 2026-12-03):
#   scripts/gpu-train.sh volo:1000:500 sparsifiner:1000:500 van:1000:500
#   scripts/gpu-train.sh volo:1000 sparsifiner:1000 van:1000
# and for the shipped sparsifiner_cifar (Sparsifiner on LV-ViT's stem, 2026-12-03 18:58-19:13):
#   TRAIN_ARGS_sparsifiner_lvvit="--no-compile" scripts/gpu-train.sh sparsifiner_lvvit:1000:500
#   TRAIN_ARGS_sparsifiner_lvvit="--no-compile" scripts/gpu-train.sh sparsifiner_lvvit:1000
# and for the shipped van_cifar (92.16%, 2026-12-04: three schedules, one on the CPU) and
# enat_cifar (6.15M parameters, stored int8; 2026-12-04), the README's "How they were made".
# JOB is a classifier family of tools/train/families.py, `tokenizer` or `enat` (which needs
# the tokenizer made before). Each job is one process with a wall-clock budget: its schedule
# ends on time even when jobs share the GPU. STOP (classifiers and enat) ends the command's part after
# that many training seconds of the BUDGET schedule, exporting what it has; a later command
# with the same BUDGET and no STOP resumes it to the end of that one schedule. A checkpoint is
# written every minute under /tmp/seer-train, kept only while the machine stays warm (30 s after
# a call: start the next call at once, with no step here in between). Set TRAIN_RESUME=1 on a
# command meant to resume: it then stops at once when a job's checkpoint is gone (the machine was
# released) instead of starting the schedule over and running into the call's time limit, as a
# resuming call did on 2026-12-03 22:52 (its whole 549 s spent on a fresh start, nothing exported).
# It lives outside the repo because a carried folder
# replaces its copy there: on 2026-12-03 a resuming call that carried .gpu wiped checkpoints kept
# under .gpu/train and the jobs started over. A budget raised in a later command also resumes, but
# the cosine schedule then jumps back to where the new budget puts it. Keep each command's
# share under ~520 s so it ends inside the 10-minute limit. TRAIN_ARGS_<JOB> adds arguments to
# a job's script, e.g. TRAIN_ARGS_van="--init .data/van_cifar.safetensors --lr 3e-4": a new
# schedule from weights trained before (carry the file), which is how a run goes on in a later
# device session; ENAT_TOKENIZER names the tokenizer of an enat job (default: the one a
# tokenizer job made in this run), e.g. assets/models/vq_cifar.safetensors with
# TRAIN_ARGS_enat="--init assets/models/enat_cifar.safetensors --steps 8". Weights (in tars of two;
# a tar over 15 MiB split into parts, the device's per-file limit being 16 MiB) and logs are
# copied to $OUT. Two runs of the same job side by side (e.g. two ENAT sizes) each need their own
# SEER_TRAIN_DIR (checkpoints, default /tmp/seer-train) and OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
(($#)) || { sed -n "2,/^set -uo/{/^#/p}" "$0"; exit 2; }
dir=${SEER_TRAIN_DIR:-/tmp/seer-train}
mkdir -p "$dir"
out=${OUT:-$dir/out}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
py=python3
resnet=.data/resnet56-4bfd9763.th
ckpt_of() { case "$1" in tokenizer) echo vq_cifar.ckpt ;; enat) echo enat_cifar.ckpt ;; *) echo "$1.ckpt" ;; esac; }
if [[ ${TRAIN_RESUME:-0} == 1 ]]; then
  for job in "$@"; do
    c=$dir/$(ckpt_of "${job%%:*}")
    [[ -f $c ]] || { echo "gpu-train: TRAIN_RESUME=1 but $c is missing: this machine is a fresh one" \
      "and the earlier call's checkpoints are gone; start a new schedule from the weights that call" \
      "returned (TRAIN_ARGS_<job>=\"--init FILE\")"; exit 3; }
  done
fi
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true
# decode the packs once; every job then loads the cached arrays
$py -c "import sys; sys.path.insert(0, 'tools/train'); from cifar_data import cache_decoded
for p in ('.data/cifar10-train.pack', '.data/cifar10-test.pack'): print(p, cache_decoded(p)[0].shape)" || exit 1

pids=()
names=()
for job in "$@"; do
  name=${job%%:*} budget=${job#*:} stop=
  [[ $budget == *:* ]] && { stop=${budget#*:}; budget=${budget%%:*}; }
  case "$name" in
    tokenizer) cmd=(tools/train/train_tokenizer.py --resnet "$resnet") ;;
    enat) cmd=(tools/train/train_enat.py --tokenizer "${ENAT_TOKENIZER:-$dir/vq_cifar.safetensors}"
               --resnet "$resnet" ${stop:+--stop-at-s "$stop"}) ;;
    *) cmd=(tools/train/train_classifier.py --family "$name" ${stop:+--stop-at-s "$stop"}) ;;
  esac
  extra_var=TRAIN_ARGS_$name
  read -r -a extra <<< "${!extra_var:-}"
  cmd+=("${extra[@]}")
  $py "${cmd[@]}" --budget-s "$budget" --out-dir "$dir" >> "$dir/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
done
# progress while they run: the last line of each log every 60 s
while kill -0 "${pids[@]}" 2>/dev/null; do
  sleep 20
  ((SECONDS % 60 < 20)) || continue
  for n in "${names[@]}"; do echo "$n: $(tail -n 1 "$dir/$n.log")"; done
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
for n in "${names[@]}"; do echo "== $n"; tail -n 3 "$dir/$n.log"; done
files=()
for n in "${names[@]}"; do
  case "$n" in tokenizer) files+=(vq_cifar.safetensors) ;; enat) files+=(enat_cifar.safetensors) ;;
    *) files+=("$n.safetensors") ;; esac
done
for ((i = 0; i < ${#files[@]}; i += 2)); do
  t=$out/weights$((i / 2)).tar
  tar -cf "$t" -C "$dir" "${files[@]:i:2}"
  # the device returns files of at most 16 MiB: a larger tar (e.g. a bigger ENAT in F16) comes
  # back in parts; here, `cat weights0.tar.part-* > weights0.tar` joins them
  if (($(stat -c %s "$t") > 15 * 1024 * 1024)); then
    split -b 15M -d "$t" "$t.part-" && rm "$t"
  fi
done
tar -czf "$out/logs.tar.gz" -C "$dir" $(cd "$dir" && ls *.log)
ls -la "$out"
exit $rc
