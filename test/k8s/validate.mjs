#!/usr/bin/env node
// Validates Kubernetes manifests offline against the API's schemas
// (kubernetes-models), one line per object:
//
//     node test/k8s/validate.mjs [--check] FILE...
//     ok Deployment/otp-labs
//     error: k8s/bad.yaml: document 1: Deployment/otp-labs: /spec/replicas must be integer
//
// Every YAML document of every FILE must be a kind kubernetes-models knows,
// valid against its schema. With --check, also what the schemas cannot say
// about otp-labs' manifests (checks.mjs: replicas, the downward API, the
// cookie's Secret, the security context, probes, grace, the headless
// Service...), one line each. Exit 0 when all is well, 1 on any error, 2 on
// bad usage. Needs `npm ci --prefix test/k8s`.
import { loadDocuments, label, validateObject } from "./manifests.mjs";
import { checks } from "./checks.mjs";

const USAGE = "usage: node test/k8s/validate.mjs [--check] FILE...";

async function main(argv) {
    let check = false;
    const files = [];
    for (const arg of argv) {
        if (arg === "--check") check = true;
        else if (arg === "-h" || arg === "--help") { console.log(USAGE); return 0; }
        else if (arg.startsWith("-")) { console.error(`validate: unknown option ${arg}\n${USAGE}`); return 2; }
        else files.push(arg);
    }
    if (files.length === 0) {
        console.error(USAGE);
        return 2;
    }
    let docs;
    try {
        docs = loadDocuments(files);
    } catch (e) {
        console.error(`error: ${e.message}`);
        return 1;
    }
    if (docs.length === 0) {
        console.error(`error: no Kubernetes object in ${files.join(" ")}`);
        return 1;
    }
    let failed = 0;
    for (const { file, index, object, error } of docs) {
        if (error) {
            failed++;
            console.log(`error: ${file}: document ${index}: ${error}`);
            continue;
        }
        const errors = await validateObject(object);
        if (errors.length === 0) {
            console.log(`ok ${label(object)}`);
        } else {
            failed++;
            for (const err of errors)
                console.log(`error: ${file}: document ${index}: ${label(object)}: ${err}`);
        }
    }
    if (check && failed === 0) {
        for (const { what, errors } of checks(docs.map((d) => d.object))) {
            if (errors.length === 0) {
                console.log(`ok check: ${what}`);
            } else {
                failed++;
                for (const err of errors)
                    console.log(`error: check: ${what}: ${err}`);
            }
        }
    }
    return failed === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (e) => { console.error(`validate: ${e.stack || e}`); process.exitCode = 1; },
);
