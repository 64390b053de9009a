# Two commands for newcomers: `make demo` and `make test`. Everything else is what they need.
PY ?= python3.11
VENV := .venv
VPY := $(VENV)/bin/python
BUILD_VENV := .venv-build
LTS_BPY := 4.2.23
LTS_VENV := .venv-lts
# Blender 5.2 LTS (Python 3.13) runs in a Debian trixie root (tools/chroot_run.sh): the host has Python 3.11.
NEW_LTS_BPY := 5.2.3
NEW_LTS_NUMPY := 2.3.5
TRIXIE := .cache/trixie
TRIXIE_RUN := tools/chroot_run.sh $(TRIXIE)/root
TRIXIE_MIRROR ?= http://deb.debian.org/debian
BPY := $(BUILD_VENV)/bin/python
MODELS := models/pose_landmarker_lite.task models/pose_landmarker_full.task models/pose_landmarker_heavy.task \
	models/hand_landmarker.task models/face_landmarker.task
SAMPLE := samples/cam01.mp4
export BLENDER_USER_RESOURCES ?= $(CURDIR)/.cache/blender-user

.PHONY: demo test unit lint venv models sample clean

demo: venv models sample
	$(VPY) cli.py $(SAMPLE) --model full --landmarks out/demo_landmarks.npz \
		--out out/demo.blend --out out/demo.fbx --out out/demo.bvh --out out/demo_contact_sheet.png

test: venv models sample $(LTS_VENV)/.done dist .cache/venv-clean/.done .cache/venv-clean-lts/.done $(TRIXIE)/.done
	$(VPY) -m ruff check .
	$(VPY) -m pytest -q tests
	@echo "--- the Blender integration subset again on Blender $(LTS_BPY) (LTS) ---"
	$(LTS_VENV)/bin/python -m pytest -q tests/blender/test_blender.py tests/e2e/test_cli.py
	@echo "--- the Blender integration subset again on Blender $(NEW_LTS_BPY) (5.2 LTS, Python 3.13, Debian trixie root) ---"
	$(TRIXIE_RUN) /opt/venv/bin/python -m pytest -q tests/blender/test_blender.py tests/e2e/test_cli.py

# The fast tier alone: no bpy, no models, seconds (tests/unit). Then `make lint`.
unit: venv
	$(VPY) -m pytest -q tests/unit

lint: venv
	$(VPY) -m ruff check .

# The oldest supported Blender (4.2 LTS: legacy Action API) for the integration subset.
$(LTS_VENV)/.done: requirements.txt
	$(PY) -m venv $(LTS_VENV)
	$(LTS_VENV)/bin/python -m pip install --quiet --upgrade pip
	sed 's/^bpy==.*/bpy==$(LTS_BPY)/' requirements.txt > $(LTS_VENV)/requirements.txt
	$(LTS_VENV)/bin/python -m pip install --quiet -r $(LTS_VENV)/requirements.txt
	$(LTS_VENV)/bin/python -m pip install --quiet --no-deps mediapipe==1.2.2
	touch $@

venv: $(VENV)/.done
$(VENV)/.done: requirements.txt
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -r requirements.txt
	$(VPY) -m pip install --quiet --no-deps mediapipe==1.2.2
	touch $@

# mediapipe 1.x lacks the native half of its metadata writers: the build uses 0.10.21 in its own venv.
$(BUILD_VENV)/.done: tools/requirements-build.txt
	$(PY) -m venv $(BUILD_VENV)
	$(BPY) -m pip install --quiet --upgrade pip
	$(BPY) -m pip install --quiet -r tools/requirements-build.txt
	$(BPY) -m pip install --quiet --no-deps mediapipe==0.10.21
	touch $@

models: $(MODELS)
$(MODELS) &: tools/build_models.py tools/models.lock.json | $(BUILD_VENV)/.done
	$(BPY) tools/build_models.py --out models --cache .cache
	touch $(MODELS)

sample: $(SAMPLE)
$(SAMPLE): tools/fetch_sample.py | $(VENV)/.done
	$(VPY) tools/fetch_sample.py

clean:
	rm -rf $(VENV) $(BUILD_VENV) $(LTS_VENV) .cache models samples out dist

# Extension zips: one per platform in dist/ (bundled wheels and models), built and validated with
# Blender's own extension tools; test-dist installs the linux zip into bpy venvs without MediaPipe/OpenCV.
CLEAN_VENV := .cache/venv-clean
CLEAN_LTS_VENV := .cache/venv-clean-lts
.PHONY: dist test-dist

dist: venv models
	$(VPY) tools/build_dist.py --out dist --cache .cache

test-dist: dist sample $(CLEAN_VENV)/.done $(CLEAN_LTS_VENV)/.done $(TRIXIE)/.done
	$(VPY) -m pytest -q tests/e2e/test_dist.py

# bpy and what Blender itself ships, nothing else: the installed zip must bring its own packages.
$(CLEAN_VENV)/.done: tools/requirements-clean.txt
	rm -rf $(CLEAN_VENV)
	$(PY) -m venv $(CLEAN_VENV)
	$(CLEAN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CLEAN_VENV)/bin/python -m pip install --quiet -r tools/requirements-clean.txt
	touch $@

$(CLEAN_LTS_VENV)/.done: tools/requirements-clean.txt
	rm -rf $(CLEAN_LTS_VENV)
	$(PY) -m venv $(CLEAN_LTS_VENV)
	$(CLEAN_LTS_VENV)/bin/python -m pip install --quiet --upgrade pip
	sed 's/^bpy==.*/bpy==$(LTS_BPY)/' tools/requirements-clean.txt > $(CLEAN_LTS_VENV)/requirements.txt
	$(CLEAN_LTS_VENV)/bin/python -m pip install --quiet -r $(CLEAN_LTS_VENV)/requirements.txt
	touch $@

# Blender 5.2 LTS: bpy $(NEW_LTS_BPY) needs Python 3.13, so it runs in a minimal Debian trixie root (~3 GB) through
# tools/chroot_run.sh (as root: private mounts that end with the command). $(TRIXIE)/.root: debootstrap
# (~1-3 min; TRIXIE_MIRROR= for another mirror). $(TRIXIE)/.done: the venvs (~3 min), made anew when the
# requirements change: /opt/venv-clean has bpy and its own requirements only, for the zip install of
# tests/e2e/test_dist.py; /opt/venv has requirements.txt with bpy $(NEW_LTS_BPY) and the numpy 2 it needs, for the
# integration subset. pip inside uses the host's pip configuration (copied: index, CA bundle, constraints;
# PIP_* pass through; local wheel folders are mounted read-only by tools/chroot_run.sh).
$(TRIXIE)/.root:
	@[ "$$(id -u)" = 0 ] || { echo "Blender 5.2 LTS checks: building the Debian root needs root (debootstrap, chroot)" >&2; exit 1; }
	@if grep -q " $(CURDIR)/$(TRIXIE)/" /proc/self/mountinfo; then \
		echo "$(TRIXIE): something is still mounted inside it (see: findmnt | grep trixie); not removing it" >&2; exit 1; fi
	command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] || \
		{ timeout 600 apt-get update -qq && timeout 600 apt-get install -y -qq debootstrap; } || \
		{ echo "debootstrap is missing and apt-get could not install it" >&2; exit 1; }
	rm -rf $(TRIXIE)
	mkdir -p $(TRIXIE)
	timeout 900 env PATH="$$PATH:/usr/sbin:/sbin" debootstrap --variant=minbase \
		--include=python3.13,python3.13-venv,libgles2,libegl1,libxi6,libxxf86vm1,libxfixes3,libxrender1,libxkbcommon0,libsm6,libgl1,libx11-6 \
		trixie $(TRIXIE)/root $(TRIXIE_MIRROR) > $(TRIXIE)/debootstrap.log 2>&1 || \
		{ tail -20 $(TRIXIE)/debootstrap.log; echo "debootstrap of Debian trixie from $(TRIXIE_MIRROR) failed or took over 15 min (log: $(TRIXIE)/debootstrap.log; another mirror: make TRIXIE_MIRROR=...)" >&2; exit 1; }
	ln -sfn ../proc/self/mounts $(TRIXIE)/root/etc/mtab  # Blender lists the mounted file systems
	touch $@

$(TRIXIE)/.done: $(TRIXIE)/.root tools/requirements-clean.txt requirements.txt
	rm -rf $(TRIXIE)/root/opt/venv $(TRIXIE)/root/opt/venv-clean $@
	for f in /etc/pip.conf /etc/xdg/pip /etc/ssl/certs/ca-certificates.crt $${PIP_CONFIG_FILE:-} $${PIP_CERT:-}; do \
		if [ -e "$$f" ]; then mkdir -p "$(TRIXIE)/root$$(dirname "$$f")" && cp -rL "$$f" "$(TRIXIE)/root$$(dirname "$$f")/"; fi; done
	for d in .config/pip .pip; do if [ -f "$$HOME/$$d/pip.conf" ]; then \
		mkdir -p $(TRIXIE)/root/root/$$d && cp -L "$$HOME/$$d/pip.conf" $(TRIXIE)/root/root/$$d/; fi; done
	$(TRIXIE_RUN) python3.13 -m venv /opt/venv-clean
	sed -e 's/^bpy==.*/bpy==$(NEW_LTS_BPY)/' -e 's/^numpy==.*/numpy==$(NEW_LTS_NUMPY)/' tools/requirements-clean.txt \
		> $(TRIXIE)/root/opt/requirements-clean.txt
	timeout 1200 $(TRIXIE_RUN) /opt/venv-clean/bin/python -m pip install --quiet -r /opt/requirements-clean.txt || \
		{ echo "pip in $(TRIXIE)/root could not install bpy $(NEW_LTS_BPY) (index and network as on the host)" >&2; exit 1; }
	$(TRIXIE_RUN) python3.13 -m venv /opt/venv
	sed -e 's/^bpy==.*/bpy==$(NEW_LTS_BPY)/' -e 's/^numpy[=<>].*/numpy==$(NEW_LTS_NUMPY)/' requirements.txt \
		> $(TRIXIE)/root/opt/requirements.txt
	timeout 1200 $(TRIXIE_RUN) /opt/venv/bin/python -m pip install --quiet -r /opt/requirements.txt || \
		{ echo "pip in $(TRIXIE)/root could not install requirements.txt for bpy $(NEW_LTS_BPY)" >&2; exit 1; }
	timeout 600 $(TRIXIE_RUN) /opt/venv/bin/python -m pip install --quiet --no-deps mediapipe==1.2.2
	touch $@

# Speed benchmark: capture (bare landmarker, one worker, parallel workers; lite/full/heavy; the sample and a
# long generated clip), bake, memory, Blender responsiveness. Prints one table and writes the "Speed" section
# of BENCHMARKS.md (tools/bench_speed.py; ~10 min on 2 cores; `--ten-minutes` adds a full 10-minute capture).
.PHONY: bench
bench: venv models sample
	$(VPY) tools/bench_accuracy.py --write BENCHMARKS.md
	$(VPY) tools/bench_speed.py
	$(VPY) tools/bench_hands.py
