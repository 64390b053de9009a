# Two commands for newcomers: `make demo` and `make test`. Everything else is what they need.
PY ?= python3.11
VENV := .venv
VPY := $(VENV)/bin/python
BUILD_VENV := .venv-build
LTS_BPY := 4.2.23
LTS_VENV := .venv-lts
BPY := $(BUILD_VENV)/bin/python
MODELS := models/pose_landmarker_lite.task models/pose_landmarker_full.task models/pose_landmarker_heavy.task \
	models/hand_landmarker.task models/face_landmarker.task
SAMPLE := samples/cam01.mp4
export BLENDER_USER_RESOURCES ?= $(CURDIR)/.cache/blender-user

.PHONY: demo test unit lint venv models sample clean

demo: venv models sample
	$(VPY) cli.py $(SAMPLE) --model full --landmarks out/demo_landmarks.npz \
		--out out/demo.blend --out out/demo.fbx --out out/demo.bvh --out out/demo_contact_sheet.png

test: venv models sample $(LTS_VENV)/.done dist .cache/venv-clean/.done .cache/venv-clean-lts/.done
	$(VPY) -m ruff check .
	$(VPY) -m pytest -q tests
	@echo "--- the Blender integration subset again on Blender $(LTS_BPY) (LTS) ---"
	$(LTS_VENV)/bin/python -m pytest -q tests/blender/test_blender.py tests/e2e/test_cli.py

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

test-dist: dist sample $(CLEAN_VENV)/.done $(CLEAN_LTS_VENV)/.done
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

# Speed benchmark: capture (bare landmarker, one worker, parallel workers; lite/full/heavy; the sample and a
# long generated clip), bake, memory, Blender responsiveness. Prints one table and writes the "Speed" section
# of BENCHMARKS.md (tools/bench_speed.py; ~10 min on 2 cores; `--ten-minutes` adds a full 10-minute capture).
.PHONY: bench
bench: venv models sample
	$(VPY) tools/bench_accuracy.py --write BENCHMARKS.md
	$(VPY) tools/bench_speed.py
