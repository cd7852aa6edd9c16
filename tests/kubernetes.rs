//! The Kubernetes manifests read back as data and compared with the plan: hosts, paths,
//! ports, the upload limit and the TLS hosts are what the plan says, whatever the YAML
//! looks like. And the validators refuse what the cluster would refuse.

use std::collections::BTreeSet;

use mxproxy::output::Rendered;
use mxproxy::plan::Plan;
use serde_json::Value;

use crate::common::{render_scenario, scenario_names, validators};

/// Every manifest below `kubernetes/` but the kustomization, parsed.
fn objects(files: &[Rendered]) -> Vec<Value> {
    files
        .iter()
        .filter(|f| f.path.starts_with("kubernetes") && !f.path.ends_with("kustomization.yaml"))
        .map(|f| serde_yaml::from_str(&f.content).unwrap())
        .collect()
}

fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found = of_kind(objects, kind);
    assert_eq!(found.len(), 1, "one {kind}");
    found[0]
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// host → paths, as the plan wants them served: the well-known prefix on the server
/// name, the homeserver's prefixes on the homeserver host.
fn planned_routes(plan: &Plan) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for site in &plan.sites {
        if site.well_known {
            routes.insert((site.host.clone(), "/.well-known/matrix/".to_string()));
        }
        if site.matrix {
            for prefix in &plan.homeserver.prefixes {
                routes.insert((site.host.clone(), prefix.clone()));
            }
        }
    }
    routes
}

fn check_scenario(name: &str) {
    let (plan, files) = render_scenario(name);
    let objects = objects(&files);
    let kubernetes = plan.kubernetes.as_ref().unwrap();

    // Labels: every object carries the recommended ones; the selector picks the pods.
    for object in &objects {
        let labels = &object["metadata"]["labels"];
        assert_eq!(
            labels["app.kubernetes.io/managed-by"], "mxproxy",
            "{object}"
        );
        assert_eq!(
            labels["app.kubernetes.io/name"],
            plan.homeserver.name.as_str()
        );
        assert!(labels["app.kubernetes.io/instance"].as_str().is_some());
    }

    // The homeserver: its container port is the plan's, the Service sends there, the
    // probes ask the client API, the settings are the compose stack's.
    let statefulset = one(&objects, "StatefulSet");
    let pod = &statefulset["spec"]["template"]["spec"];
    let pod_labels = &statefulset["spec"]["template"]["metadata"]["labels"];
    let selector = statefulset["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap();
    assert!(
        selector
            .iter()
            .all(|(key, value)| &pod_labels[key] == value),
        "the selector matches the pod labels"
    );
    let container = &pod["containers"][0];
    let container_port = &container["ports"][0];
    assert_eq!(container_port["containerPort"], plan.homeserver.listen.port);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        assert_eq!(
            container[probe]["httpGet"]["path"],
            "/_matrix/client/versions"
        );
        assert_eq!(container[probe]["httpGet"]["port"], container_port["name"]);
    }
    assert!(container["resources"]["requests"]["cpu"].is_string());
    let env: Vec<(String, String)> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_string(),
                e["value"].as_str()?.to_string(),
            ))
        })
        .collect();
    for setting in plan
        .homeserver
        .settings
        .iter()
        .filter(|s| !s.env.is_empty())
    {
        assert!(
            env.contains(&(setting.env.clone(), setting.value.clone())),
            "{name}: {} missing from the StatefulSet",
            setting.env
        );
    }
    let max_request = env
        .iter()
        .find(|(k, _)| k.ends_with("MAX_REQUEST_SIZE"))
        .expect("the homeserver's upload setting");
    assert_eq!(max_request.1, plan.limits.max_upload_bytes.to_string());
    let mount = &container["volumeMounts"][0];
    assert_eq!(mount["mountPath"], plan.homeserver.data_dir.as_str());
    assert_eq!(
        mount["name"],
        statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    );

    let service = one(&objects, "Service");
    let service_port = &service["spec"]["ports"][0];
    assert_eq!(service_port["targetPort"], container_port["name"]);
    assert_eq!(service_port["port"], plan.homeserver.listen.port);
    let service_name = service["metadata"]["name"].as_str().unwrap();

    let mut served = BTreeSet::new();
    let ingresses = of_kind(&objects, "Ingress");
    let routes = of_kind(&objects, "HTTPRoute");
    if let Some(gateway_plan) = &kubernetes.gateway {
        assert!(ingresses.is_empty());
        for route in &routes {
            let gateway = &route["spec"]["parentRefs"][0];
            assert_eq!(gateway["name"], gateway_plan.name.as_str());
            let hosts = strings(&route["spec"]["hostnames"]);
            for rule in route["spec"]["rules"].as_array().unwrap() {
                assert_eq!(rule["backendRefs"][0]["name"], service_name);
                assert_eq!(rule["backendRefs"][0]["port"], service_port["port"]);
                for matched in rule["matches"].as_array().unwrap() {
                    assert_eq!(matched["path"]["type"], "PathPrefix");
                    for host in &hosts {
                        served.insert((
                            host.clone(),
                            matched["path"]["value"].as_str().unwrap().to_string(),
                        ));
                    }
                }
            }
        }
    } else {
        assert!(routes.is_empty());
        let mut tls_hosts = BTreeSet::new();
        let mut body_limits = Vec::new();
        let mut issuing_ingresses = 0;
        let planned_issuer = kubernetes
            .tls
            .as_ref()
            .and_then(|tls| tls.cluster_issuer.as_deref());
        for ingress in &ingresses {
            let annotations = &ingress["metadata"]["annotations"];
            assert_eq!(
                ingress["spec"]["ingressClassName"],
                kubernetes.ingress_class.as_deref().unwrap()
            );
            for tls in ingress["spec"]["tls"].as_array().into_iter().flatten() {
                assert_eq!(
                    tls["secretName"],
                    kubernetes.tls.as_ref().unwrap().secret.as_str()
                );
                tls_hosts.extend(strings(&tls["hosts"]));
            }
            if let Some(limit) = annotations["nginx.ingress.kubernetes.io/proxy-body-size"].as_str()
            {
                body_limits.push(limit.parse::<u64>().unwrap());
                assert_eq!(
                    annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"],
                    plan.limits.read_timeout_seconds.to_string().as_str()
                );
            }
            if let Some(middlewares) =
                annotations["traefik.ingress.kubernetes.io/router.middlewares"].as_str()
            {
                // `<namespace>-<name>@kubernetescrd` names a Middleware written here.
                for reference in middlewares.split(',') {
                    let name = reference
                        .strip_suffix("@kubernetescrd")
                        .and_then(|r| r.strip_prefix(&format!("{}-", kubernetes.namespace)))
                        .unwrap_or_else(|| panic!("middleware reference {reference}"));
                    let middleware = of_kind(&objects, "Middleware")
                        .into_iter()
                        .find(|m| m["metadata"]["name"] == name)
                        .unwrap_or_else(|| panic!("no Middleware {name}"));
                    if let Some(bytes) =
                        middleware["spec"]["buffering"]["maxRequestBodyBytes"].as_u64()
                    {
                        body_limits.push(bytes);
                    }
                }
            }
            for rule in ingress["spec"]["rules"].as_array().unwrap() {
                let host = rule["host"].as_str().unwrap();
                for path in rule["http"]["paths"].as_array().unwrap() {
                    assert_eq!(path["pathType"], "Prefix");
                    let backend = &path["backend"]["service"];
                    assert_eq!(backend["name"], service_name);
                    assert_eq!(backend["port"]["name"], service_port["name"]);
                    served.insert((host.to_string(), path["path"].as_str().unwrap().to_string()));
                }
            }
            // cert-manager is asked once, by the Ingress whose TLS section lists every
            // planned name, for exactly the planned issuer.
            if let Some(issuer) = annotations["cert-manager.io/cluster-issuer"].as_str() {
                issuing_ingresses += 1;
                assert_eq!(Some(issuer), planned_issuer, "{name}: ClusterIssuer");
                let hosts: BTreeSet<String> = ingress["spec"]["tls"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|tls| strings(&tls["hosts"]))
                    .collect();
                let planned: BTreeSet<String> = plan.tls.names.iter().cloned().collect();
                assert_eq!(
                    hosts, planned,
                    "{name}: the issuing Ingress covers every name"
                );
            }
        }
        assert_eq!(
            issuing_ingresses,
            usize::from(planned_issuer.is_some()),
            "{name}: one Ingress asks cert-manager for the certificate when an issuer is set"
        );
        // The upload limit is enforced exactly once on the API, at the plan's value.
        assert_eq!(body_limits, vec![plan.limits.max_upload_bytes], "{name}");
        let planned_tls: BTreeSet<String> = if plan.tls.enabled {
            plan.tls.names.iter().cloned().collect()
        } else {
            BTreeSet::new()
        };
        assert_eq!(tls_hosts, planned_tls, "{name}: TLS hosts");
    }
    assert_eq!(served, planned_routes(&plan), "{name}: hosts and paths");
}

#[test]
fn every_kubernetes_scenario_serves_what_the_plan_says() {
    let names: Vec<String> = scenario_names()
        .into_iter()
        .filter(|n| n.starts_with("kubernetes-"))
        .collect();
    assert!(names.len() >= 4, "{names:?}");
    for name in names {
        check_scenario(&name);
    }
}

/// The validators are only worth something if they refuse what a cluster refuses.
#[test]
fn the_kubernetes_validators_refuse_unknown_fields() {
    let (plan, files) = render_scenario("kubernetes-traefik");
    let middleware = files
        .iter()
        .find(|f| f.path.ends_with("middleware-upload-limit.yaml"))
        .unwrap();
    assert!(validators::custom_resource(
        &middleware.content,
        "traefik-v3.7.9-middlewares.yaml"
    ));
    let typo = middleware
        .content
        .replace("maxRequestBodyBytes", "maxRequestBodyByte");
    assert!(
        std::panic::catch_unwind(|| validators::custom_resource(
            &typo,
            "traefik-v3.7.9-middlewares.yaml"
        ))
        .is_err()
    );

    let (_, files) = render_scenario("kubernetes-gateway");
    let route = files
        .iter()
        .find(|f| f.path.ends_with("httproute-homeserver.yaml"))
        .unwrap();
    // Accepted as generated, so a refusal below is the edit's doing, not a broken schema.
    assert!(validators::custom_resource(
        &route.content,
        "gateway-api-v1.6.1-httproutes.yaml"
    ));
    let typo = route.content.replace("hostnames:", "hostname:");
    assert!(
        std::panic::catch_unwind(|| validators::custom_resource(
            &typo,
            "gateway-api-v1.6.1-httproutes.yaml"
        ))
        .is_err()
    );
    let wrong_type = route.content.replace("type: PathPrefix", "type: Glob");
    assert!(
        std::panic::catch_unwind(|| validators::custom_resource(
            &wrong_type,
            "gateway-api-v1.6.1-httproutes.yaml"
        ))
        .is_err()
    );

    // A kustomization listing a file that is not there, or missing one that is.
    let dir = tempfile::tempdir().unwrap();
    let out = validators::materialize(&plan, &files_of("kubernetes-traefik"), dir.path());
    let kustomization = out.join("kubernetes/kustomization.yaml");
    assert!(validators::kustomization(&kustomization));
    std::fs::remove_file(out.join("kubernetes/middleware-upload-limit.yaml")).unwrap();
    assert!(std::panic::catch_unwind(|| validators::kustomization(&kustomization)).is_err());

    // Core objects: an unknown field fails kubernetes-validate's strict mode.
    let statefulset = out.join("kubernetes/statefulset.yaml");
    if validators::kubernetes_core(&statefulset) {
        let text = std::fs::read_to_string(&statefulset).unwrap();
        std::fs::write(&statefulset, text.replace("replicas: 1", "replica: 1")).unwrap();
        assert!(std::panic::catch_unwind(|| validators::kubernetes_core(&statefulset)).is_err());
    }
}

fn files_of(name: &str) -> Vec<Rendered> {
    render_scenario(name).1
}
