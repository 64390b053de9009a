// Check a Flamenco job compiler script without a Flamenco Manager: run it under node with stand-ins for the
// Manager's job-authoring calls (author.Task, author.Command, task.addCommand, job.addTask, path.*, print) and
// print the tasks it makes as JSON.
//
//     node tools/flamenco/check_job_type.js tools/flamenco/video_mocap_batch.js SETTINGS.json
//
// SETTINGS.json: the job's settings (missing ones take JOB_TYPE's defaults, as the Blender add-on does).
// Output: {"settings": {...}, "tasks": [{"name", "type", "commands": [{"name", "parameters"}]}]}; exit 1
// with a message when the script throws (Flamenco would refuse the job with that message).
// What this cannot check: the Manager's own JavaScript engine (goja) and its exact `path` module, the
// setting types as the add-on shows them, and the Worker running the command.
"use strict";
const fs = require("fs");
const vm = require("vm");
const nodePath = require("path").posix;

const SETTING_TYPES = new Set(["string", "int32", "float", "bool"]);

function main() {
    const [scriptFile, settingsFile] = process.argv.slice(2);
    const source = fs.readFileSync(scriptFile, "utf8");
    const tasks = [];
    const context = {
        print: (...args) => process.stderr.write(args.map(String).join(" ") + "\n"),
        path: {
            join: (...parts) => nodePath.join(...parts),
            dirname: (p) => nodePath.dirname(p),
            basename: (p) => nodePath.basename(p),
            stem: (p) => nodePath.basename(p, nodePath.extname(p)),
        },
        author: {
            Task: (name, type) => {
                if (typeof name !== "string" || typeof type !== "string") {
                    throw new Error("author.Task(name, type) takes two strings");
                }
                const task = { name, type, commands: [], dependencies: [] };
                task.addCommand = (cmd) => task.commands.push(cmd);
                task.addDependency = (other) => task.dependencies.push(other.name);
                return task;
            },
            Command: (name, parameters) => ({ name, parameters }),
        },
    };
    vm.createContext(context);
    vm.runInContext(source + "\n;this.JOB_TYPE = JOB_TYPE; this.compileJob = compileJob;", context,
                    { filename: scriptFile });
    const jobType = context.JOB_TYPE;
    checkJobType(jobType);
    const given = settingsFile ? JSON.parse(fs.readFileSync(settingsFile, "utf8")) : {};
    const settings = {};
    for (const s of jobType.settings) {
        if (s.key in given) {
            settings[s.key] = given[s.key];
        } else if ("default" in s) {
            settings[s.key] = s.default;
        } else if (s.required) {
            fail(`setting '${s.key}' is required`);
        }
    }
    const job = { name: "check", type: "video-mocap-batch", settings, addTask: (t) => tasks.push(t) };
    try {
        context.compileJob(job);
    } catch (exc) {
        fail(String(exc && exc.message ? exc.message : exc));
    }
    const plain = tasks.map((t) => ({ name: t.name, type: t.type, dependencies: t.dependencies,
                                      commands: t.commands }));
    process.stdout.write(JSON.stringify({ settings, tasks: plain }, null, 1) + "\n");
}

function checkJobType(jobType) {
    if (!jobType || typeof jobType.label !== "string" || !Array.isArray(jobType.settings)) {
        fail("JOB_TYPE needs a label and a settings list");
    }
    const keys = new Set();
    for (const s of jobType.settings) {
        if (keys.has(s.key)) {
            fail(`setting '${s.key}' defined twice`);
        }
        keys.add(s.key);
        if (!SETTING_TYPES.has(s.type)) {
            fail(`setting '${s.key}': unknown type '${s.type}'`);
        }
        if ("default" in s) {
            const want = { string: "string", int32: "number", float: "number", bool: "boolean" }[s.type];
            if (typeof s.default !== want) {
                fail(`setting '${s.key}': default ${JSON.stringify(s.default)} is not a ${s.type}`);
            }
            if (s.choices && !s.choices.includes(s.default)) {
                fail(`setting '${s.key}': default not among its choices`);
            }
        }
    }
}

function fail(message) {
    process.stderr.write(`error: ${message}\n`);
    process.exit(1);
}

main();
