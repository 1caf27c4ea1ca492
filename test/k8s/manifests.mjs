// Reading Kubernetes manifests as the API server would take them, for
// validate.mjs and pod-env.mjs: YAML documents, their kubernetes-models
// class (the API's OpenAPI schemas, compiled), and a container's environment
// as the kubelet builds it (downward API, Secrets, $(VAR) expansion).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { parseAllDocuments } from "yaml";

// Every document of each file, as plain objects: [{ file, index, object }],
// or { file, index, error } for a document that is not YAML or not a
// mapping. YAML 1.1, as Kubernetes' parser (go-yaml v2): `value: yes` is a
// boolean there, not a string, and must fail as it would on a cluster.
// Duplicate keys are an error, as with kubectl's strict decoding. Empty
// documents (a trailing `---`) are skipped. Throws if a file cannot be read.
export function loadDocuments(files) {
    const out = [];
    for (const file of files) {
        let text;
        try {
            text = readFileSync(file, "utf8");
        } catch (e) {
            throw new Error(`${file}: cannot read: ${e.code || e.message}`);
        }
        const docs = parseAllDocuments(text, { version: "1.1", prettyErrors: false });
        if (!Array.isArray(docs))   // an empty stream
            continue;
        docs.forEach((doc, i) => {
            const index = i + 1;
            if (doc.errors.length > 0) {
                out.push({ file, index, error: `not YAML: ${doc.errors[0].message.split("\n")[0]}` });
                return;
            }
            const object = doc.toJS({ maxAliasCount: 100 });
            if (object === null || object === undefined)
                return;
            if (typeof object !== "object" || Array.isArray(object))
                out.push({ file, index, error: "not a Kubernetes object (a mapping with apiVersion and kind)" });
            else
                out.push({ file, index, object });
        });
    }
    return out;
}

// "Kind/name" for messages.
export function label(object) {
    const kind = typeof object.kind === "string" ? object.kind : "?";
    const name = object.metadata && typeof object.metadata.name === "string" ? object.metadata.name : "?";
    return `${kind}/${name}`;
}

const require = createRequire(import.meta.url);
const API_VERSION = /^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?v[0-9]+(?:(?:alpha|beta)[0-9]+)?$/;
const KIND = /^[A-Z][A-Za-z0-9]*$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

// The kubernetes-models class of apiVersion/kind (kubernetes-models/apps/v1/
// Deployment for apps/v1 Deployment; kubernetes-models/v1/... for the core
// group), or throws "unknown ...". Only the kind's own module is loaded (a
// group's index loads all of its kinds: seconds for the core group). Only a
// top-level kind counts: the class must carry that apiVersion and kind
// itself (DeploymentSpec does not).
export async function modelClass(apiVersion, kind) {
    if (typeof apiVersion !== "string" || !API_VERSION.test(apiVersion))
        throw new Error(`apiVersion ${JSON.stringify(apiVersion)} is not GROUP/VERSION or VERSION`);
    if (typeof kind !== "string" || !KIND.test(kind))
        throw new Error(`kind ${JSON.stringify(kind)} is not a kind name`);
    let mod;
    try {
        mod = await import(`kubernetes-models/${apiVersion}/${kind}`);
    } catch (e) {
        if (e.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED" && e.code !== "ERR_MODULE_NOT_FOUND")
            throw e;
        try {
            require.resolve(`kubernetes-models/${apiVersion}`);
        } catch {
            throw new Error(`unknown apiVersion ${apiVersion} (not in kubernetes-models' schemas)`);
        }
        throw new Error(`unknown kind ${kind} in ${apiVersion}`);
    }
    const cls = mod[kind];
    if (typeof cls !== "function" || cls.kind !== kind || cls.apiVersion !== apiVersion)
        throw new Error(`unknown kind ${kind} in ${apiVersion}`);
    return cls;
}

// One line per schema error: "/spec/replicas must be integer".
function schemaErrors(e) {
    if (!Array.isArray(e.errors))
        return [e.message];
    const seen = new Set();
    for (const err of e.errors) {
        let line = `${err.instancePath || "/"} ${err.message}`;
        if (err.params && Array.isArray(err.params.allowedValues))
            line += ` (${err.params.allowedValues.map((v) => JSON.stringify(v)).join(", ")})`;
        seen.add(line);
    }
    return [...seen];
}

// Validates one object against its schema; returns a list of error lines,
// empty if it is valid. Beyond the schema, the one thing every object sent
// to the API needs: a metadata.name the API server accepts.
export async function validateObject(object) {
    let cls;
    try {
        cls = await modelClass(object.apiVersion, object.kind);
    } catch (e) {
        return [e.message];
    }
    const errors = [];
    try {
        new cls(object).validate();
    } catch (e) {
        errors.push(...schemaErrors(e));
    }
    const name = object.metadata && object.metadata.name;
    if (typeof name !== "string")
        errors.push("/metadata/name is required");
    else if (name.length > 253 || !DNS_SUBDOMAIN.test(name))
        errors.push(`/metadata/name ${JSON.stringify(name)} is not a DNS subdomain name`);
    return errors;
}

// Kubernetes' $(VAR) expansion (k8s.io/kubernetes third_party/forked/golang/
// expansion): $(NAME) becomes NAME's value if NAME is in `vars`, and stays as
// it is otherwise; $$ is a literal $; any other $ is kept.
export function expand(input, vars) {
    let out = "";
    let checkpoint = 0;
    for (let cursor = 0; cursor < input.length; cursor++) {
        if (input[cursor] !== "$" || cursor + 1 >= input.length)
            continue;
        out += input.slice(checkpoint, cursor);
        const rest = input.slice(cursor + 1);
        let advance = 1;
        if (rest[0] === "$") {
            out += "$";
        } else if (rest[0] === "(") {
            const close = rest.indexOf(")", 1);
            if (close < 0) {
                out += "$(";
            } else {
                const name = rest.slice(1, close);
                out += vars.has(name) ? vars.get(name) : `$(${name})`;
                advance = close + 1;
            }
        } else {
            out += "$" + rest[0];
        }
        cursor += advance;
        checkpoint = cursor + 1;
    }
    return out + input.slice(checkpoint);
}

// The $(NAME) references in a value, as expand() sees them.
export function references(input) {
    const names = [];
    expand(input, { has: (n) => (names.push(n), false), get: () => "" });
    return names;
}

// A container's environment as the kubelet gives it to the process, in
// order: each `value` expanded against the variables before it, `valueFrom`
// resolved from `pod` ({ podIP, namespace, name, hostIP, nodeName,
// serviceAccountName, secrets: Map "NAME/KEY" -> value }). Returns a Map. Throws on what it cannot resolve (a missing
// Secret key that is not optional, a field it does not know, envFrom).
export function containerEnv(container, pod) {
    if (container.envFrom && container.envFrom.length > 0)
        throw new Error(`container ${container.name}: envFrom is not supported here`);
    const vars = new Map();
    for (const e of container.env || []) {
        let value;
        if (e.valueFrom === undefined) {
            value = expand(typeof e.value === "string" ? e.value : "", vars);
        } else if (e.valueFrom.fieldRef) {
            const path = e.valueFrom.fieldRef.fieldPath;
            const fields = {
                "status.podIP": pod.podIP,
                "status.podIPs": pod.podIP,
                "status.hostIP": pod.hostIP,
                "status.hostIPs": pod.hostIP,
                "metadata.namespace": pod.namespace,
                "metadata.name": pod.name,
                "spec.nodeName": pod.nodeName,
                "spec.serviceAccountName": pod.serviceAccountName,
            };
            if (!(path in fields) || fields[path] === undefined)
                throw new Error(`${e.name}: fieldRef ${path} is not known here`);
            value = fields[path];
        } else if (e.valueFrom.secretKeyRef) {
            const ref = e.valueFrom.secretKeyRef;
            const key = `${ref.name}/${ref.key}`;
            if (pod.secrets.has(key)) {
                value = pod.secrets.get(key);
            } else if (ref.optional) {
                continue;
            } else {
                throw new Error(`${e.name}: Secret ${ref.name} key ${ref.key} not given (--secret ${key}=VALUE)`);
            }
        } else {
            throw new Error(`${e.name}: valueFrom ${Object.keys(e.valueFrom).join(",")} is not supported here`);
        }
        vars.set(e.name, value);
    }
    return vars;
}

// The Deployment named `name` among the documents (or the only one).
export function findDeployment(objects, name) {
    const all = objects.filter((o) => o.kind === "Deployment");
    const found = name ? all.filter((o) => o.metadata && o.metadata.name === name) : all;
    if (found.length !== 1)
        throw new Error(name ? `no single Deployment ${name}` : `not exactly one Deployment (${all.length})`);
    return found[0];
}

// The container named `name` in a pod spec (or the first).
export function findContainer(podSpec, name) {
    const containers = podSpec.containers || [];
    const c = name ? containers.find((x) => x.name === name) : containers[0];
    if (!c)
        throw new Error(name ? `no container ${name}` : "no container");
    return c;
}
