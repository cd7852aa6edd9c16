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
/// name, the homeserver's prefixes on the homeserver host, and with `--rtc` the
/// authorization service's paths and LiveKit's `/` on the RTC host.
fn planned_routes(plan: &Plan) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    if let Some(rtc) = &plan.rtc {
        for path in rtc.auth_paths.iter().chain(["/".to_string()].iter()) {
            routes.insert((rtc.host.clone(), path.clone()));
        }
    }
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
    // LiveKit's and the authorization service's objects are named for themselves, so that
    // the homeserver's selector never picks their pods.
    let mut names = vec![plan.homeserver.name.clone()];
    if let Some(rtc) = &kubernetes.rtc {
        names.extend([rtc.livekit.name.clone(), rtc.auth.name.clone()]);
    }
    for object in &objects {
        let labels = &object["metadata"]["labels"];
        assert_eq!(
            labels["app.kubernetes.io/managed-by"], "mxproxy",
            "{object}"
        );
        let name = labels["app.kubernetes.io/name"].as_str().unwrap();
        assert!(names.iter().any(|n| n == name), "{name}");
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

    let service = of_kind(&objects, "Service")
        .into_iter()
        .find(|s| s["metadata"]["name"] == kubernetes.service.name.as_str())
        .expect("the homeserver's Service");
    let service_port = &service["spec"]["ports"][0];
    assert_eq!(service_port["targetPort"], container_port["name"]);
    assert_eq!(service_port["port"], plan.homeserver.listen.port);
    let service_name = service["metadata"]["name"].as_str().unwrap();
    for route in &kubernetes.routes {
        if route.name == "homeserver" || route.name == "well-known" {
            assert_eq!(route.backend.name, service_name);
            assert_eq!(route.backend.port_name, service_port["name"]);
        }
    }

    let mut served = BTreeSet::new();
    let ingresses = of_kind(&objects, "Ingress");
    let routes = of_kind(&objects, "HTTPRoute");
    if let Some(gateway_plan) = &kubernetes.gateway {
        assert!(ingresses.is_empty());
        for route in &routes {
            let gateway = &route["spec"]["parentRefs"][0];
            assert_eq!(gateway["name"], gateway_plan.name.as_str());
            let hosts = strings(&route["spec"]["hostnames"]);
            let planned = planned_route(kubernetes, route);
            for rule in route["spec"]["rules"].as_array().unwrap() {
                assert_eq!(
                    rule["backendRefs"][0]["name"],
                    planned.backend.name.as_str()
                );
                assert_eq!(rule["backendRefs"][0]["port"], planned.backend.port);
                for matched in rule["matches"].as_array().unwrap() {
                    assert_eq!(matched["path"]["type"], planned.path_type.as_str());
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
            let planned = planned_route(kubernetes, ingress);
            for rule in ingress["spec"]["rules"].as_array().unwrap() {
                let host = rule["host"].as_str().unwrap();
                for path in rule["http"]["paths"].as_array().unwrap() {
                    assert_eq!(path["pathType"], planned.path_type.as_str());
                    let backend = &path["backend"]["service"];
                    assert_eq!(backend["name"], planned.backend.name.as_str());
                    assert_eq!(backend["port"]["name"], planned.backend.port_name.as_str());
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
    // Every route's backend is a Service written here, whose selector picks exactly the
    // pods of one workload.
    let services = of_kind(&objects, "Service");
    for route in &kubernetes.routes {
        assert!(
            services
                .iter()
                .any(|s| s["metadata"]["name"] == route.backend.name.as_str()),
            "{name}: no Service {}",
            route.backend.name
        );
    }
    if kubernetes.rtc.is_some() {
        check_rtc(&plan, &objects);
    }
}

/// The planned route an Ingress or HTTPRoute object was made from, by its name.
fn planned_route<'a>(
    kubernetes: &'a mxproxy::plan::KubernetesPlan,
    object: &Value,
) -> &'a mxproxy::plan::Route {
    kubernetes
        .routes
        .iter()
        .find(|r| object["metadata"]["name"] == r.name.as_str())
        .unwrap_or_else(|| panic!("no planned route for {}", object["metadata"]["name"]))
}

/// The pod labels of the workload (StatefulSet or Deployment) a selector picks; exactly one.
fn selected<'a>(objects: &'a [Value], selector: &Value) -> &'a Value {
    let picks = |workload: &&Value| {
        let labels = &workload["spec"]["template"]["metadata"]["labels"];
        selector
            .as_object()
            .unwrap()
            .iter()
            .all(|(key, value)| &labels[key] == value)
    };
    let found: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "StatefulSet" || o["kind"] == "Deployment")
        .filter(picks)
        .collect();
    assert_eq!(found.len(), 1, "one workload for {selector}");
    found[0]
}

/// The container port a Service port's targetPort names, in the workload it selects.
fn target<'a>(workload: &'a Value, target_port: &Value) -> &'a Value {
    workload["spec"]["template"]["spec"]["containers"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == *target_port)
        .unwrap_or_else(|| panic!("no container port {target_port}"))
}

/// `--rtc`: every Service reaches a port its workload opens; the media ports are exposed
/// on a Service that carries UDP with their own numbers, as LiveKit's config has them;
/// keys come from a Secret only; the LiveKit route keeps a WebSocket open for 120 s at least;
/// the authorization service's route adds no CORS; the homeserver names the focus.
fn check_rtc(plan: &Plan, objects: &[Value]) {
    let rtc = plan.rtc.as_ref().unwrap();
    let kubernetes = plan.kubernetes.as_ref().unwrap();
    let krtc = kubernetes.rtc.as_ref().unwrap();
    for service in of_kind(objects, "Service") {
        let workload = selected(objects, &service["spec"]["selector"]);
        for port in service["spec"]["ports"].as_array().unwrap() {
            let container = target(workload, &port["targetPort"]);
            assert_eq!(container["protocol"], port["protocol"], "{service}");
        }
    }
    let media = of_kind(objects, "Service")
        .into_iter()
        .find(|s| s["metadata"]["name"] == krtc.media_service.as_str())
        .unwrap();
    assert_eq!(media["spec"]["type"], "LoadBalancer");
    let livekit = selected(objects, &media["spec"]["selector"]);
    let mut exposed = Vec::new();
    for port in media["spec"]["ports"].as_array().unwrap() {
        let container = target(livekit, &port["targetPort"]);
        // LiveKit announces its own numbers in its ICE candidates.
        assert_eq!(port["port"], container["containerPort"], "{port}");
        exposed.push(format!(
            "{}/{}",
            port["port"],
            port["protocol"].as_str().unwrap().to_lowercase()
        ));
    }
    let planned: Vec<String> = rtc.media_ports.iter().map(|m| m.ports.clone()).collect();
    assert_eq!(exposed, planned);

    let config_map = one(objects, "ConfigMap");
    let text = config_map["data"][krtc.config_file.as_str()]
        .as_str()
        .unwrap();
    // Every key one LiveKit documents, as the compose stack's livekit.yaml is checked.
    validators::livekit_config(text);
    let config: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
    assert_eq!(config["port"].as_u64(), Some(u64::from(krtc.livekit.port)));
    assert_eq!(
        config["rtc"]["tcp_port"].as_u64(),
        Some(u64::from(krtc.ice_tcp_port))
    );
    assert_eq!(
        config["rtc"]["udp_port"].as_u64(),
        Some(u64::from(krtc.udp_port))
    );
    assert_eq!(config["room"]["auto_create"].as_bool(), Some(false));
    assert!(config.get("keys").is_none(), "keys come from the Secret");

    for deployment in of_kind(objects, "Deployment") {
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        for env in pod["containers"][0]["env"].as_array().unwrap() {
            let name = env["name"].as_str().unwrap();
            if name == "LIVEKIT_KEY" || name == "LIVEKIT_SECRET" {
                assert_eq!(
                    env["valueFrom"]["secretKeyRef"]["name"],
                    krtc.keys_secret.as_str()
                );
                assert!(env.get("value").is_none());
            }
        }
    }

    let route = |name: &str| {
        objects
            .iter()
            .find(|o| {
                (o["kind"] == "Ingress" || o["kind"] == "HTTPRoute")
                    && o["metadata"]["name"] == name
            })
            .unwrap_or_else(|| panic!("no route {name}"))
    };
    let auth = route("rtc-auth");
    let annotations = auth["metadata"]["annotations"].as_object();
    assert!(
        annotations
            .into_iter()
            .flatten()
            .all(|(key, _)| !key.contains("cors")),
        "no CORS on the authorization service: {auth}"
    );
    let livekit_route = route("livekit");
    if kubernetes.gateway.is_some() {
        assert_eq!(
            livekit_route["spec"]["rules"][0]["timeouts"]["request"],
            "0s"
        );
        let service = of_kind(objects, "Service")
            .into_iter()
            .find(|s| s["metadata"]["name"] == krtc.livekit.name.as_str())
            .unwrap();
        assert_eq!(
            service["spec"]["ports"][0]["appProtocol"],
            "kubernetes.io/ws"
        );
    } else if kubernetes.ingress_class.as_deref() == Some("nginx") {
        for key in ["proxy-read-timeout", "proxy-send-timeout"] {
            let seconds: u32 = livekit_route["metadata"]["annotations"]
                [format!("nginx.ingress.kubernetes.io/{key}")]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
            assert!(seconds >= 120 && seconds == rtc.timeout_seconds, "{key}");
        }
        assert_eq!(
            livekit_route["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-buffering"],
            "off"
        );
    }

    // The homeserver names the focus in the client well-known it serves.
    let statefulset = one(objects, "StatefulSet");
    let env = &statefulset["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(
        env.as_array()
            .unwrap()
            .iter()
            .any(|e| e["value"] == rtc.service_url.as_str()),
        "the well-known focus {} in the StatefulSet",
        rtc.service_url
    );
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
