#!/bin/bash
# Re-run the author's mesoscopic implementations on the GIF column (10 s bio time).
# Prereqs (see README.md): author's repo extracted to /tmp/mesopop and C libs built;
# /tmp/venv-mc (numpy scipy numba), /tmp/venv-nest (NEST 3.10 + numpy + matplotlib).
set -e
mkdir -p ${LOG:-/tmp/mesopop/logs}
D=$(cd "$(dirname "$0")" && pwd)
PY=${PY:-/tmp/venv-mc/bin/python}
NPY=${NPY:-/tmp/venv-nest/bin/python}
$PY  $D/make_params.py
$PY  $D/run_meso_python.py                               > ${LOG:-/tmp/mesopop/logs}/numba.txt 2>&1
$PY  $D/run_meso_python.py --scale 0.1 --out $D/results/python-numba_scale0.1.json > /dev/null 2>&1
$PY  $D/run_meso_python.py --pure --T 0.3 --out $D/results/python-pure_T0.3.json    > /dev/null 2>&1
for s in 1 0.1; do
  for impl in c nest; do
    $NPY $D/run_meso_c_nest.py --impl $impl --scale $s > ${LOG:-/tmp/mesopop/logs}/${impl}_scale$s.txt 2>&1
  done
done
$PY $D/summarize.py
