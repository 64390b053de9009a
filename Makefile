# Two commands for newcomers: `make demo` and `make test`. Everything else is what they need.
PY ?= python3.11
VENV := .venv
VPY := $(VENV)/bin/python
BUILD_VENV := .venv-build
BPY := $(BUILD_VENV)/bin/python
MODELS := models/pose_landmarker_lite.task models/pose_landmarker_full.task models/pose_landmarker_heavy.task
SAMPLE := samples/cam01.mp4
export BLENDER_USER_RESOURCES ?= $(CURDIR)/.cache/blender-user

.PHONY: demo test venv models sample clean

demo: venv models sample
	$(VPY) cli.py $(SAMPLE) --model full --landmarks out/demo_landmarks.npz \
		--out out/demo.blend --out out/demo.fbx --out out/demo.bvh --out out/demo_contact_sheet.png

test: venv models sample
	$(VPY) -m pytest -q tests

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
	rm -rf $(VENV) $(BUILD_VENV) .cache models samples out
