#!/usr/bin/env node
// Prints the environment a Deployment's container gets, one KEY=VALUE line
// per variable, as the kubelet builds it: fieldRef status.podIP and
// metadata.namespace from the options, secretKeyRef from --secret, and each
// value's $(VAR) references expanded against the variables before it.
// test/t0025-k8s.bats runs the release with exactly this environment.
//
//     node test/k8s/pod-env.mjs --pod-ip 10.1.2.3 [--namespace default]
//         [--pod-name NAME] [--secret SECRET/KEY=VALUE]...
//         [--deployment NAME] [--container NAME] FILE...
import { loadDocuments, containerEnv, findDeployment, findContainer } from "./manifests.mjs";

const USAGE = "usage: node test/k8s/pod-env.mjs --pod-ip IP [--namespace NS] [--pod-name NAME] " +
    "[--secret SECRET/KEY=VALUE]... [--deployment NAME] [--container NAME] FILE...";

function main(argv) {
    const pod = { namespace: "default", name: undefined, podIP: undefined, secrets: new Map() };
    let deployment, container;
    const files = [];
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const value = () => {
            if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
            return argv[++i];
        };
        if (arg === "-h" || arg === "--help") { console.log(USAGE); return 0; }
        else if (arg === "--pod-ip") pod.podIP = value();
        else if (arg === "--namespace") pod.namespace = value();
        else if (arg === "--pod-name") pod.name = value();
        else if (arg === "--deployment") deployment = value();
        else if (arg === "--container") container = value();
        else if (arg === "--secret") {
            const s = value();
            const m = /^([^/=]+)\/([^=]+)=(.*)$/s.exec(s);
            if (!m) throw new Error(`--secret ${s}: not SECRET/KEY=VALUE`);
            pod.secrets.set(`${m[1]}/${m[2]}`, m[3]);
        } else if (arg.startsWith("-")) throw new Error(`unknown option ${arg}\n${USAGE}`);
        else files.push(arg);
    }
    if (files.length === 0 || !pod.podIP)
        throw new Error(USAGE);
    const docs = loadDocuments(files);
    const bad = docs.find((d) => d.error);
    if (bad)
        throw new Error(`${bad.file}: document ${bad.index}: ${bad.error}`);
    const objects = docs.map((d) => d.object);
    const dep = findDeployment(objects, deployment);
    if (pod.name === undefined)
        pod.name = `${dep.metadata.name}-0`;
    const c = findContainer((dep.spec.template && dep.spec.template.spec) || {}, container);
    const lines = [];
    for (const [k, v] of containerEnv(c, pod)) {
        if (/[\n\0]/.test(v))
            throw new Error(`${k}: its value holds a newline or NUL; cannot print it as a line`);
        lines.push(`${k}=${v}`);
    }
    process.stdout.write(lines.map((l) => l + "\n").join(""));
    return 0;
}

try {
    process.exitCode = main(process.argv.slice(2));
} catch (e) {
    console.error(`pod-env: ${e.message}`);
    process.exitCode = 1;
}
