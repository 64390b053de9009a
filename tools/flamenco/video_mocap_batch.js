// SPDX-License-Identifier: GPL-3.0-or-later
//
// Flamenco job type "Video Mocap Batch": one task per video, each running the extension's Blender command
//
//     {blender} {blenderArgs} -c video_mocap batch VIDEO --base INPUT_ROOT --out-dir OUT_DIR
//         --format FORMATS --report OUT_DIR/flamenco-reports/NNNN.jsonl --workers N [--model M] [--force] [EXTRA…]
//
// Install: copy this file into the `scripts/` folder beside the flamenco-manager executable and restart the
// Manager. Every Worker needs Blender 4.2+ with the Video Mocap extension installed (that is what registers
// `-c video_mocap`) and the videos and OUT_DIR on shared storage under the same paths (or Flamenco's
// two-way variables). See tools/flamenco/README.md for the settings.

const JOB_TYPE = {
    label: "Video Mocap Batch",
    description: "Markerless motion capture of many videos: one Blender task per video",
    settings: [
        { key: "videos", type: "string", required: true,
          description: "The videos, one path per line (or separated by ';'); each must be inside input_root" },
        { key: "input_root", type: "string", subtype: "dir_path", required: true,
          description: "Outputs are named by each video's path relative to this folder" },
        { key: "out_dir", type: "string", subtype: "dir_path", required: true,
          description: "Where the outputs go: out_dir/<path relative to input_root>.<ext>" },
        { key: "formats", type: "string", default: "fbx,npz",
          description: "Comma list of bvh, fbx, blend, npz (landmark cache), png (contact sheet)" },
        { key: "model", type: "string", default: "full", choices: ["lite", "full", "heavy"],
          description: "The pose model" },
        { key: "capture_workers", type: "int32", default: 1, propargs: { min: 1, max: 64 },
          description: "Capture processes per task (a clip under 90 frames per process uses fewer)" },
        { key: "force", type: "bool", default: false,
          description: "Redo videos whose outputs are already complete (otherwise such tasks finish at once)" },
        { key: "extra_args", type: "string", default: "",
          description: "More options of the command, as on its command line, e.g. --rig mixamo --smooth-hz 6 " +
                       "--armature '/shared/rigs/hero.blend:Armature'" },
    ],
};

function compileJob(job) {
    const settings = job.settings;
    const videos = splitVideos(settings.videos);
    if (videos.length === 0) {
        throw "no videos given: set 'videos' to one path per line";
    }
    const root = trimSlash(settings.input_root);
    for (const video of videos) {
        if (!isInside(video, root)) {
            throw `${video} is not inside input_root ${root}`;
        }
    }
    const extra = splitArgs(settings.extra_args || "");
    const reports = path.join(settings.out_dir, "flamenco-reports");
    videos.forEach((video, index) => {
        const name = `mocap-${pad(index + 1, 4)}-${path.basename(video)}`;
        const task = author.Task(name, "blender");
        const args = ["-c", "video_mocap", "batch", video,
                      "--base", root, "--out-dir", settings.out_dir,
                      "--format", settings.formats || "fbx,npz",
                      "--report", path.join(reports, `${pad(index + 1, 4)}.jsonl`),
                      "--workers", String(settings.capture_workers || 1)];
        if (settings.model) {
            args.push("--model", settings.model);
        }
        if (settings.force) {
            args.push("--force");
        }
        task.addCommand(author.Command("blender-render", {
            exe: "{blender}",
            exeArgs: "{blenderArgs}",   // the Manager's default: -b -y (background)
            argsBefore: [],
            blendfile: "",              // no file to open: the command builds its own scene
            args: args.concat(extra),
        }));
        job.addTask(task);
    });
}

function splitVideos(text) {
    return String(text || "").split(/[\n;]/).map((s) => s.trim()).filter((s) => s !== "" && !s.startsWith("#"));
}

function trimSlash(p) {
    return p.length > 1 ? p.replace(/[\\/]+$/, "") : p;
}

function isInside(file, folder) {
    const norm = (p) => p.replace(/\\/g, "/");
    return norm(file).startsWith(norm(folder) + "/");
}

function pad(n, width) {
    let s = String(n);
    while (s.length < width) {
        s = "0" + s;
    }
    return s;
}

// Split a command line like a POSIX shell does for words and quotes (no variables, no globs).
function splitArgs(text) {
    const out = [];
    let word = null;
    let quote = null;
    for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (quote) {
            if (c === quote) {
                quote = null;
            } else if (c === "\\" && quote === '"' && i + 1 < text.length) {
                word += text[++i];
            } else {
                word += c;
            }
        } else if (c === "'" || c === '"') {
            quote = c;
            word = word === null ? "" : word;
        } else if (/\s/.test(c)) {
            if (word !== null) {
                out.push(word);
                word = null;
            }
        } else if (c === "\\" && i + 1 < text.length) {
            word = (word === null ? "" : word) + text[++i];
        } else {
            word = (word === null ? "" : word) + c;
        }
    }
    if (quote) {
        throw `extra_args: unbalanced ${quote} quote`;
    }
    if (word !== null) {
        out.push(word);
    }
    return out;
}
