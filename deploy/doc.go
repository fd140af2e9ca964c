// Package deploy holds how the service is deployed and the tests that keep
// that honest. The files are not Go: k8s/ is a kustomize tree (base/, the
// overlays local/ and gke/, and the managed-certificate component the gke
// overlay includes) with rbac/, what the build may do in the cluster; the
// repository root has the Dockerfile and cloudbuild.yaml.
//
// The tests render every overlay in-process with kustomize (krusty), decode
// each object strictly into its typed Kubernetes API struct, and check what
// a cluster would only reveal at run time: that every variable set is one
// the binary reads (infra/config), that its settings parse with the binary's
// own parser, that the separate processes share one Pub/Sub bus (the
// emulator on a local cluster), that probes, selectors, autoscalers and
// disruption budgets point at what exists, that no secret is in the
// repository or passes through the build, that every identity gets only what
// it uses (the manifests, the build's RBAC and the grants README.md makes),
// and that the GKE objects, Cloud Build pipeline and Dockerfile fit together.
// A test mutates the rendered objects and files to show that each check can
// fail.
//
// How to go from an empty Google Cloud project to a running service is in
// README.md beside this file.
package deploy
