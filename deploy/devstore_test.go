package deploy

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// devStoreCommand is the subcommand that serves the embedded store on its
// own: the local overlay's in-cluster store, for trying the manifests out.
const devStoreCommand = "dev-store"

// notForProduction is the annotation that marks the dev store for what it is.
const notForProduction = "capstone.example/not-for-production"

// localServiceCommands are the subcommands of the services a local cluster
// runs in place of Google's and a MongoDB: one pod each, probed over TCP.
var localServiceCommands = map[string]bool{emulatorCommand: true, devStoreCommand: true}

// isLocalService reports whether a Deployment runs the Pub/Sub emulator or
// the dev store.
func isLocalService(d *appsv1.Deployment) bool {
	return slices.ContainsFunc(d.Spec.Template.Spec.Containers, func(c corev1.Container) bool { return localServiceCommands[subcommand(&c)] })
}

// argValue is the value of --name in a container's args ("" if absent) and
// whether the flag is there at all (a boolean flag has no value).
func argValue(c *corev1.Container, name string) (string, bool) {
	if len(c.Args) == 0 {
		return "", false
	}
	args := c.Args[1:]
	for i := 0; i < len(args); i++ {
		n, value, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if n != name {
			continue
		}
		if !hasValue && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			value = args[i+1]
		}
		return value, true
	}
	return "", false
}

// checkDevStore: on GKE no dev store and no volume claim. On a local cluster
// the dev store is marked not for production, listens on TCP on every
// interface (which the binary allows only with --allow-remote: the store has
// no authentication), keeps its data dir on a ReadWriteOnce volume claim of
// the manifests (the root filesystem is read-only, and its files must
// outlive the pod) that the pod's group can write, and its Service reaches
// the port it listens on.
func checkDevStore(m *manifest, env checkEnv) []error {
	var errs []error
	if env.target.gke {
		for _, pvc := range m.PVCs {
			errs = append(errs, fmt.Errorf("PersistentVolumeClaim %s on GKE: no process there keeps state in the cluster", pvc.Name))
		}
		return errs
	}
	for i := range m.Deployments {
		d := &m.Deployments[i]
		for _, c := range d.Spec.Template.Spec.Containers {
			if subcommand(&c) != devStoreCommand {
				continue
			}
			where := d.Name + "/" + c.Name
			if d.Annotations[notForProduction] == "" {
				errs = append(errs, fmt.Errorf("%s: no %s annotation: say what this store is not", where, notForProduction))
			}
			addr, _ := argValue(&c, "addr")
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: --addr %q: the default Unix socket cannot be reached through a Service; listen on 0.0.0.0:PORT", where, addr))
				continue
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
				errs = append(errs, fmt.Errorf("%s: listens on %s only, which the Service cannot reach: listen on 0.0.0.0", where, addr))
			}
			if _, ok := argValue(&c, "allow-remote"); !ok {
				errs = append(errs, fmt.Errorf("%s: --addr %s without --allow-remote: the binary refuses a non-loopback address for an unauthenticated store", where, addr))
			}
			cport, ok := portNamed(&c, "mongodb")
			if !ok || strconv.Itoa(int(cport)) != port {
				errs = append(errs, fmt.Errorf("%s: listens on port %s, but the container port named mongodb is %d", where, port, cport))
			}
			errs = append(errs, checkDataVolume(m, d, &c)...)
			errs = append(errs, checkStoreService(m, d, port)...)
		}
	}
	return errs
}

// checkDataVolume: the dev store's --data-dir is a mount of a volume claim
// of the manifests, ReadWriteOnce, writable by the pod's group.
func checkDataVolume(m *manifest, d *appsv1.Deployment, c *corev1.Container) []error {
	where := d.Name + "/" + c.Name
	dir, _ := argValue(c, "data-dir")
	if dir == "" {
		dir = "./data" // relative to the image's working directory, on the read-only root
	}
	i := slices.IndexFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool { return vm.MountPath == dir })
	if i < 0 {
		return []error{fmt.Errorf("%s: --data-dir %s is not a mounted volume: the root filesystem is read-only and the data must outlive the pod", where, dir)}
	}
	if c.VolumeMounts[i].ReadOnly {
		return []error{fmt.Errorf("%s: the data dir %s is mounted read-only", where, dir)}
	}
	name := c.VolumeMounts[i].Name
	var claim string
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == name && v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claim == "" {
		return []error{fmt.Errorf("%s: the data dir's volume %q is not a persistentVolumeClaim: the store would lose its data with the pod", where, name)}
	}
	var errs []error
	pvc := slices.IndexFunc(m.PVCs, func(p corev1.PersistentVolumeClaim) bool { return p.Name == claim })
	if pvc < 0 {
		errs = append(errs, fmt.Errorf("%s: claims %q, which is not in the manifests", where, claim))
	} else {
		p := m.PVCs[pvc]
		if !slices.Equal(p.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) {
			errs = append(errs, fmt.Errorf("PersistentVolumeClaim %s: access modes %v, want ReadWriteOnce (one pod on the SQLite files)", p.Name, p.Spec.AccessModes))
		}
		if q, ok := p.Spec.Resources.Requests[corev1.ResourceStorage]; !ok || q.IsZero() {
			errs = append(errs, fmt.Errorf("PersistentVolumeClaim %s: no storage request", p.Name))
		}
	}
	if psc := d.Spec.Template.Spec.SecurityContext; psc == nil || psc.FSGroup == nil {
		errs = append(errs, fmt.Errorf("%s: no fsGroup: the volume would be root's, and the store runs as a non-root user", where))
	}
	return errs
}

// checkStoreService: a Service selects the dev store and reaches its port.
func checkStoreService(m *manifest, d *appsv1.Deployment, port string) []error {
	for _, svc := range m.Services {
		if len(svc.Spec.Selector) == 0 {
			continue
		}
		if ok, _ := selects(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, d); !ok {
			continue
		}
		for _, p := range svc.Spec.Ports {
			target := p.TargetPort
			for _, c := range d.Spec.Template.Spec.Containers {
				if target.Type == intstr.String {
					if n, ok := portNamed(&c, target.StrVal); ok && strconv.Itoa(int(n)) == port {
						return nil
					}
				} else if strconv.Itoa(int(target.IntVal)) == port {
					return nil
				}
			}
		}
		return []error{fmt.Errorf("Service %s: selects %s but no port of it reaches the store's %s", svc.Name, d.Name, port)}
	}
	return []error{fmt.Errorf("Deployment %s: no Service selects the dev store (MONGODB_URI names its Service)", d.Name)}
}

// TestDevStoreChecksCatchMutations breaks the dev store one way at a time and
// requires the check meant for it to fail.
func TestDevStoreChecksCatchMutations(t *testing.T) {
	local, gke := targets[0], targets[1]
	const store = "capstone-dev-store"
	withoutArg := func(m *manifest, name string, hasValue bool) {
		c := container(m, store)
		i := slices.Index(c.Args, "--"+name)
		n := 1
		if hasValue {
			n = 2
		}
		c.Args = slices.Delete(slices.Clone(c.Args), i, i+n)
	}
	for _, mu := range []struct {
		name   string
		target target
		check  string
		mutate func(m *manifest)
	}{
		{"dev store without --allow-remote", local, "dev-store", func(m *manifest) { withoutArg(m, "allow-remote", false) }},
		{"dev store on its Unix socket", local, "dev-store", func(m *manifest) { withoutArg(m, "addr", true) }},
		{"dev store on loopback", local, "dev-store", func(m *manifest) {
			c := container(m, store)
			c.Args[slices.Index(c.Args, "--addr")+1] = "127.0.0.1:27017"
		}},
		{"dev store data on an emptyDir", local, "dev-store", func(m *manifest) {
			m.deployment(store).Spec.Template.Spec.Volumes[0].VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
		}},
		{"dev store data dir not mounted", local, "dev-store", func(m *manifest) {
			c := container(m, store)
			c.Args[slices.Index(c.Args, "--data-dir")+1] = "/var/lib/capstone"
		}},
		{"dev store claim shared", local, "dev-store", func(m *manifest) {
			m.PVCs[0].Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
		}},
		{"dev store volume not the pod's group's", local, "dev-store", func(m *manifest) {
			m.deployment(store).Spec.Template.Spec.SecurityContext.FSGroup = nil
		}},
		{"dev store not marked", local, "dev-store", func(m *manifest) {
			delete(m.deployment(store).Annotations, notForProduction)
		}},
		{"dev store Service to another port", local, "dev-store", func(m *manifest) {
			svc := m.service(store)
			svc.Spec.Ports[0].TargetPort = intstr.FromInt32(27018)
		}},
		{"two dev stores", local, "scaling", func(m *manifest) {
			m.deployment(store).Spec.Replicas = ptr.To(int32(2))
		}},
		{"dev store rolled with a surge", local, "scaling", func(m *manifest) {
			m.deployment(store).Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType}
		}},
		{"dev store probed over HTTP", local, "probes", func(m *manifest) {
			c := container(m, store)
			c.LivenessProbe.TCPSocket = nil
			c.LivenessProbe.HTTPGet = &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("mongodb")}
		}},
		{"dev store on GKE", gke, "config", func(m *manifest) {
			d := *m.deployment("capstone-relay")
			d.Name = store
			d.Spec.Template.Spec.Containers = []corev1.Container{*container(m, "capstone-relay")}
			d.Spec.Template.Spec.Containers[0].Args = []string{devStoreCommand, "--addr", "0.0.0.0:27017", "--allow-remote"}
			m.Deployments = append(m.Deployments, d)
		}},
		{"volume claim on GKE", gke, "dev-store", func(m *manifest) {
			m.PVCs = append(m.PVCs, corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: store, Namespace: namespace}})
		}},
	} {
		t.Run(mu.name, func(t *testing.T) { catches(t, mu.target, mu.check, mu.mutate) })
	}
}
