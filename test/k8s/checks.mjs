// What the API schemas cannot say about otp-labs' manifests (k8s/): each
// check is one property the cluster depends on, with the reason in `what`.
// checks(objects) -> [{ what, errors: [string] }], in order.
import { containerEnv, findContainer, references } from "./manifests.mjs";

const APP = "otp-labs";
const SECRET = "otp-labs-cookie";
const DRAIN_DEFAULT_MS = 30000;     // otp-node's OTP_DRAIN_TIMEOUT_MS default
const LEAVE_MARGIN_S = 5;           // the node's leave and the launcher's exit
const STOP_DEFAULT_S = 60;          // the launcher's OTP_LABS_STOP_TIMEOUT default

// A pod to resolve the environment with, as the kubelet would.
const TEST_POD = {
    podIP: "10.1.2.3",
    namespace: "check-ns",
    name: `${APP}-0`,
    hostIP: "192.168.0.2",
    nodeName: "node-0",
    serviceAccountName: "default",
    secrets: new Map([[`${SECRET}/cookie`, "check-cookie"]]),
};

function selects(selector, labels) {
    const want = (selector && selector.matchLabels) || selector || {};
    const keys = Object.keys(want);
    return keys.length > 0 && keys.every((k) => labels && labels[k] === want[k]);
}

// A port given by name or number, as a number (undefined if unknown).
function portOf(container, port) {
    if (typeof port === "number") return port;
    const p = (container.ports || []).find((x) => x.name === port);
    return p ? p.containerPort : undefined;
}

function context(objects) {
    const deps = objects.filter((o) => o.kind === "Deployment" && o.metadata.name === APP);
    if (deps.length !== 1)
        throw new Error(`expected one Deployment ${APP}, found ${deps.length}`);
    const dep = deps[0];
    const pod = (dep.spec.template && dep.spec.template.spec) || {};
    const container = findContainer(pod, APP);
    const envSpec = container.env || [];
    const envByName = new Map(envSpec.map((e) => [e.name, e]));
    let env = new Map(), envError;
    try {
        env = containerEnv(container, TEST_POD);
    } catch (e) {
        envError = e.message;
    }
    const services = objects.filter((o) => o.kind === "Service");
    const pdbs = objects.filter((o) => o.kind === "PodDisruptionBudget");
    const secrets = objects.filter((o) => o.kind === "Secret");
    return { dep, pod, container, envSpec, envByName, env, envError, services, pdbs, secrets,
             labels: (dep.spec.template.metadata || {}).labels || {} };
}

const CHECKS = [
    ["the container's environment resolves as the kubelet's would", (c) => (c.envError ? [c.envError] : [])],
    ["3 replicas, one rolled at a time and never more than 3, so quorum stays a true majority (maxUnavailable 1, maxSurge 0)", (c) => {
        const e = [];
        if (c.dep.spec.replicas !== 3) e.push(`replicas is ${c.dep.spec.replicas}`);
        const s = c.dep.spec.strategy || {};
        const ru = s.rollingUpdate || {};
        if (s.type !== "RollingUpdate" || ru.maxUnavailable !== 1 || ru.maxSurge !== 0)
            e.push(`strategy is ${JSON.stringify(s)}`);
        return e;
    }],
    ["the selector selects the pod template's labels (app=otp-labs)", (c) =>
        selects(c.dep.spec.selector, c.labels) && c.labels.app === APP ? [] :
            [`selector ${JSON.stringify(c.dep.spec.selector)}, labels ${JSON.stringify(c.labels)}`]],
    ["the image's own entrypoint runs (image otp-labs:0.1.0, IfNotPresent, no command or args)", (c) => {
        const e = [];
        if (c.container.image !== "otp-labs:0.1.0") e.push(`image is ${c.container.image}`);
        if (c.container.imagePullPolicy !== "IfNotPresent") e.push(`imagePullPolicy is ${c.container.imagePullPolicy}`);
        if (c.container.command || c.container.args) e.push("command or args set");
        return e;
    }],
    ["POD_IP from status.podIP and NAMESPACE from metadata.namespace (downward API)", (c) => {
        const e = [];
        for (const [name, path] of [["POD_IP", "status.podIP"], ["NAMESPACE", "metadata.namespace"]]) {
            const v = c.envByName.get(name);
            const got = v && v.valueFrom && v.valueFrom.fieldRef && v.valueFrom.fieldRef.fieldPath;
            if (got !== path) e.push(`${name} is not from fieldRef ${path}`);
        }
        return e;
    }],
    ["every $(VAR) refers to a variable defined before it (Kubernetes expands no other)", (c) => {
        const e = [];
        const before = new Set();
        for (const v of c.envSpec) {
            for (const r of typeof v.value === "string" ? references(v.value) : [])
                if (!before.has(r)) e.push(`${v.name} uses $(${r}) before it is defined`);
            before.add(v.name);
        }
        return e;
    }],
    ["the node is named after its pod: OTP_NODE_NAME a bare name, otp-labs@10-1-2-3.NS.pod.cluster.local", (c) => {
        const n = c.env.get("OTP_NODE_NAME");
        return n === APP ? [] : [`OTP_NODE_NAME is ${JSON.stringify(n)}`];
    }],
    ["strategy dns, polling the headless Service in the pod's own namespace", (c) => {
        const e = [];
        if (c.env.get("OTP_CLUSTER_STRATEGY") !== "dns")
            e.push(`OTP_CLUSTER_STRATEGY is ${JSON.stringify(c.env.get("OTP_CLUSTER_STRATEGY"))}`);
        const q = c.env.get("OTP_CLUSTER_DNS_QUERY");
        const svc = c.services.find((s) => q === `${s.metadata.name}.${TEST_POD.namespace}.svc.cluster.local`);
        if (!svc) e.push(`OTP_CLUSTER_DNS_QUERY is ${JSON.stringify(q)} in namespace ${TEST_POD.namespace}: no Service of that name here`);
        return e;
    }],
    ["the cookie comes from Secret otp-labs-cookie key cookie, and no Secret is in the manifests", (c) => {
        const e = [];
        const v = c.envByName.get("OTP_COOKIE");
        const ref = v && v.valueFrom && v.valueFrom.secretKeyRef;
        if (!ref || ref.name !== SECRET || ref.key !== "cookie" || ref.optional)
            e.push("OTP_COOKIE is not from secretKeyRef otp-labs-cookie/cookie (required)");
        if (c.envByName.has("OTP_COOKIE_FILE")) e.push("OTP_COOKIE_FILE is set too");
        if (c.secrets.length > 0) e.push("a Secret is committed with the manifests");
        return e;
    }],
    ["non-root, read-only root filesystem, no privilege escalation, no capabilities, RuntimeDefault seccomp", (c) => {
        const e = [];
        const ps = c.pod.securityContext || {};
        const cs = c.container.securityContext || {};
        const get = (k) => (cs[k] !== undefined ? cs[k] : ps[k]);
        if (get("runAsNonRoot") !== true) e.push("runAsNonRoot is not true");
        if (!(get("runAsUser") > 0)) e.push(`runAsUser is ${get("runAsUser")}`);
        if (cs.readOnlyRootFilesystem !== true) e.push("readOnlyRootFilesystem is not true");
        if (cs.allowPrivilegeEscalation !== false) e.push("allowPrivilegeEscalation is not false");
        if (!(cs.capabilities && (cs.capabilities.drop || []).includes("ALL")) ||
            (cs.capabilities.add || []).length > 0)
            e.push("capabilities do not drop ALL (or add some)");
        const sp = get("seccompProfile");
        if (!sp || sp.type !== "RuntimeDefault") e.push("seccompProfile is not RuntimeDefault");
        return e;
    }],
    ["OTP_LABS_VAR_DIR is on a writable emptyDir (the root filesystem is read-only)", (c) => {
        const dir = c.env.get("OTP_LABS_VAR_DIR");
        if (!dir || !dir.startsWith("/")) return [`OTP_LABS_VAR_DIR is ${JSON.stringify(dir)}`];
        const vols = new Map((c.pod.volumes || []).map((v) => [v.name, v]));
        const m = (c.container.volumeMounts || []).find((vm) =>
            (dir === vm.mountPath || dir.startsWith(vm.mountPath.replace(/\/?$/, "/"))) && !vm.readOnly);
        return m && vols.get(m.name) && vols.get(m.name).emptyDir ? [] : [`no writable emptyDir holds ${dir}`];
    }],
    ["container ports: epmd 4369, the node's OTP_NODE_PORT, the HTTP OTP_HTTP_PORT", (c) => {
        const e = [];
        const ports = (c.container.ports || []).map((p) => p.containerPort);
        for (const [what, p] of [["epmd", 4369], ["OTP_NODE_PORT", Number(c.env.get("OTP_NODE_PORT"))],
                                 ["OTP_HTTP_PORT", Number(c.env.get("OTP_HTTP_PORT"))]])
            if (!(p > 0) || !ports.includes(p)) e.push(`${what} (${p}) is not a container port`);
        if (Number(c.env.get("OTP_EPMD_PORT") || 4369) !== 4369) e.push("OTP_EPMD_PORT is not 4369");
        return e;
    }],
    ["probes: readiness GET /health/ready and liveness GET /health/live on OTP_HTTP_PORT", (c) => {
        const e = [];
        const http = Number(c.env.get("OTP_HTTP_PORT"));
        for (const [probe, path] of [["readinessProbe", "/health/ready"], ["livenessProbe", "/health/live"]]) {
            const g = c.container[probe] && c.container[probe].httpGet;
            if (!g || g.path !== path || portOf(c.container, g.port) !== http)
                e.push(`${probe} is not GET ${path} on ${http}`);
        }
        const ready = (c.env.get("OTP_READY_NEEDS") || "").split(",");
        if (!ready.includes("otp-reg") || !ready.includes("otp-sup"))
            e.push("OTP_READY_NEEDS does not name otp-reg and otp-sup");
        return e;
    }],
    ["the liveness probe gives a busy node 20 s or more before a restart", (c) => {
        const l = c.container.livenessProbe || {};
        const window = (l.periodSeconds || 10) * (l.failureThreshold || 3);
        return window >= 20 ? [] : [`liveness fails after ${window} s`];
    }],
    ["terminationGracePeriodSeconds is longer than OTP_DRAIN_TIMEOUT_MS, the launcher's OTP_LABS_STOP_TIMEOUT and the leave", (c) => {
        const drain = c.env.has("OTP_DRAIN_TIMEOUT_MS") ? Number(c.env.get("OTP_DRAIN_TIMEOUT_MS")) : DRAIN_DEFAULT_MS;
        const stop = c.env.has("OTP_LABS_STOP_TIMEOUT") ? Number(c.env.get("OTP_LABS_STOP_TIMEOUT")) : STOP_DEFAULT_S;
        const grace = c.pod.terminationGracePeriodSeconds === undefined ? 30 : c.pod.terminationGracePeriodSeconds;
        const need = drain / 1000 + stop + LEAVE_MARGIN_S;
        return grace >= need ? [] :
            [`grace ${grace} s, drain ${drain / 1000} s, stop ${stop} s: needs ${need} s at least`];
    }],
    ["cpu and memory requests and limits", (c) => {
        const r = c.container.resources || {};
        const e = [];
        for (const k of ["requests", "limits"])
            for (const res of ["cpu", "memory"])
                if (!(r[k] && r[k][res] !== undefined)) e.push(`no ${res} in ${k}`);
        return e;
    }],
    ["quorum placement knows the cluster's size (OTP_SUP_MEMBERS = replicas)", (c) => {
        if (c.env.get("OTP_SUP_STRATEGY") !== "quorum") return [];
        return Number(c.env.get("OTP_SUP_MEMBERS") || 3) === c.dep.spec.replicas ? [] :
            [`OTP_SUP_MEMBERS ${c.env.get("OTP_SUP_MEMBERS")} but ${c.dep.spec.replicas} replicas`];
    }],
    ["Service otp-labs: headless, publishNotReadyAddresses, selects the pods, ports 4369, node and HTTP", (c) => {
        const s = c.services.find((x) => x.metadata.name === APP);
        if (!s) return [`no Service ${APP}`];
        const e = [];
        if (s.spec.clusterIP !== "None") e.push("clusterIP is not None (not headless)");
        if (s.spec.publishNotReadyAddresses !== true)
            e.push("publishNotReadyAddresses is not true: a draining pod would leave the DNS records before its hand-off");
        if (!selects(s.spec.selector, c.labels)) e.push("the selector does not select the pods");
        const want = [4369, Number(c.env.get("OTP_NODE_PORT")), Number(c.env.get("OTP_HTTP_PORT"))];
        for (const p of want) {
            const sp = (s.spec.ports || []).find((x) => x.port === p);
            if (!sp) e.push(`no port ${p}`);
            else if (portOf(c.container, sp.targetPort === undefined ? p : sp.targetPort) !== p)
                e.push(`port ${p} targets ${sp.targetPort}, not container port ${p}`);
        }
        return e;
    }],
    ["a PodDisruptionBudget, if any, selects the pods and allows one disruption", (c) => {
        const e = [];
        for (const p of c.pdbs) {
            if (!selects(p.spec.selector, c.labels)) e.push(`${p.metadata.name}: does not select the pods`);
            if (p.spec.maxUnavailable !== 1) e.push(`${p.metadata.name}: maxUnavailable is ${p.spec.maxUnavailable}`);
        }
        return e;
    }],
];

export function checks(objects) {
    let c;
    try {
        c = context(objects);
    } catch (e) {
        return [{ what: "the manifests hold the Deployment otp-labs", errors: [e.message] }];
    }
    return CHECKS.map(([what, run]) => {
        try {
            return { what, errors: run(c) };
        } catch (e) {
            return { what, errors: [`${e.message}`] };
        }
    });
}
