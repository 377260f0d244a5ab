// Package kubernetes holds the hub's Kubernetes manifests. No cluster runs
// where the tests do, so they validate the manifests against the
// Kubernetes API's own Go types (k8s.io/api: strict decoding, so an
// unknown or misspelt field fails, as does a wrong type), the API's name
// and label rules, and the references between the objects; then they
// check the security settings the deployment promises.
package kubernetes

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	k8sjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/proxyhub/proxyhub/internal/config"
)

// manifests holds every object of the kit, by kind.
type manifests struct {
	namespaces  []corev1.Namespace
	configMaps  []corev1.ConfigMap
	secrets     []corev1.Secret
	services    []corev1.Service
	deployments []appsv1.Deployment
	jobs        []batchv1.Job
	pdbs        []policyv1.PodDisruptionBudget
	policies    []networkingv1.NetworkPolicy
	objects     []object // every one of them
	files       []string // the files holding them
}

// object is one decoded object's kind and metadata.
type object struct {
	kind string
	meta v1.ObjectMeta
}

// decodeInto decodes doc strictly: unknown fields are errors.
func decodeInto[T any](t *testing.T, m *manifests, file string, doc []byte, list *[]T) {
	t.Helper()
	var v T
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		t.Errorf("%s: %v", file, err)
		return
	}
	// Case-sensitive, as the API server decodes: a field spelt with other
	// capitals is unknown.
	strict, err := k8sjson.UnmarshalStrict(j, &v)
	if err == nil && len(strict) > 0 {
		err = errors.Join(strict...)
	}
	if err != nil {
		t.Errorf("%s: %v", file, err)
		return
	}
	*list = append(*list, v)
	if o, ok := any(&v).(v1.Object); ok {
		m.objects = append(m.objects, object{fmt.Sprintf("%T", v), v1.ObjectMeta{Name: o.GetName(), Labels: o.GetLabels()}})
	}
}

func load(t *testing.T) manifests {
	t.Helper()
	var m manifests
	paths, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		if path == "kustomization.yaml" {
			continue
		}
		m.files = append(m.files, path)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range bytes.Split(b, []byte("\n---")) {
			var head v1.TypeMeta
			if err := yaml.Unmarshal(doc, &head); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			switch head.APIVersion + " " + head.Kind {
			case "v1 Namespace":
				decodeInto(t, &m, path, doc, &m.namespaces)
			case "v1 ConfigMap":
				decodeInto(t, &m, path, doc, &m.configMaps)
			case "v1 Secret":
				decodeInto(t, &m, path, doc, &m.secrets)
			case "v1 Service":
				decodeInto(t, &m, path, doc, &m.services)
			case "apps/v1 Deployment":
				decodeInto(t, &m, path, doc, &m.deployments)
			case "batch/v1 Job":
				decodeInto(t, &m, path, doc, &m.jobs)
			case "policy/v1 PodDisruptionBudget":
				decodeInto(t, &m, path, doc, &m.pdbs)
			case "networking.k8s.io/v1 NetworkPolicy":
				decodeInto(t, &m, path, doc, &m.policies)
			default:
				t.Errorf("%s: %q %q is not a kind this kit uses (or not a served API version)", path, head.APIVersion, head.Kind)
			}
		}
	}
	return m
}

func checkMeta(t *testing.T, kind string, meta v1.ObjectMeta) {
	t.Helper()
	for _, msg := range validation.IsDNS1123Subdomain(meta.Name) {
		t.Errorf("%s %q: name: %s", kind, meta.Name, msg)
	}
	for k, v := range meta.Labels {
		for _, msg := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
			t.Errorf("%s %q: label %s=%s: %s", kind, meta.Name, k, v, msg)
		}
	}
}

// checkPod holds every pod of the kit to the restricted Pod Security
// Standard and to the kit's own rules; secret keys and config maps it
// reads must exist.
func checkPod(t *testing.T, m manifests, name string, spec corev1.PodSpec) {
	t.Helper()
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s mounts a service-account token", name)
	}
	sc := spec.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod security context %+v, want non-root with the runtime's seccomp profile", name, sc)
	}
	secretKeys := map[string]bool{}
	for _, s := range m.secrets {
		for k := range s.StringData {
			secretKeys[s.Name+"/"+k] = true
		}
	}
	for _, v := range spec.Volumes {
		if v.Secret != nil {
			for _, it := range v.Secret.Items {
				if !secretKeys[v.Secret.SecretName+"/"+it.Key] {
					t.Errorf("%s: volume %s reads secret key %s/%s, which secret.yaml does not define", name, v.Name, v.Secret.SecretName, it.Key)
				}
			}
		}
	}
	if len(spec.Containers) == 0 {
		t.Fatalf("%s has no container", name)
	}
	for _, c := range spec.Containers {
		cs := c.SecurityContext
		if cs == nil || cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem ||
			cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation ||
			cs.Capabilities == nil || !slices.Equal(cs.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("%s/%s: container security context %+v, want a read-only root, no privilege escalation, all capabilities dropped", name, c.Name, cs)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s/%s: resources %+v, want CPU and memory requests and a memory limit", name, c.Name, c.Resources)
		}
		for _, e := range c.Env {
			if r := e.ValueFrom; r != nil && r.SecretKeyRef != nil && !secretKeys[r.SecretKeyRef.Name+"/"+r.SecretKeyRef.Key] {
				t.Errorf("%s/%s: %s reads secret key %s/%s, which secret.yaml does not define", name, c.Name, e.Name, r.SecretKeyRef.Name, r.SecretKeyRef.Key)
			}
		}
		for _, f := range c.EnvFrom {
			if f.ConfigMapRef != nil && !slices.ContainsFunc(m.configMaps, func(cm corev1.ConfigMap) bool { return cm.Name == f.ConfigMapRef.Name }) {
				t.Errorf("%s/%s: no ConfigMap %s", name, c.Name, f.ConfigMapRef.Name)
			}
		}
	}
}

func TestManifests_ValidAgainstTheKubernetesAPI(t *testing.T) {
	m := load(t)
	for _, o := range m.objects {
		checkMeta(t, o.kind, o.meta)
	}
	if len(m.deployments) != 1 || len(m.services) != 1 || len(m.pdbs) != 1 || len(m.jobs) != 1 || len(m.policies) != 1 || len(m.configMaps) != 1 || len(m.secrets) != 1 {
		t.Fatalf("want one Deployment, Service, PodDisruptionBudget, migration Job, NetworkPolicy, ConfigMap and Secret; got %d %d %d %d %d %d %d",
			len(m.deployments), len(m.services), len(m.pdbs), len(m.jobs), len(m.policies), len(m.configMaps), len(m.secrets))
	}
	d := m.deployments[0]
	checkMeta(t, "Deployment", d.ObjectMeta)
	podLabels := labels.Set(d.Spec.Template.Labels)
	sel, err := v1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Errorf("the Deployment's selector %v does not select its pods %v (%v)", d.Spec.Selector, podLabels, err)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("replicas %v, want 3", d.Spec.Replicas)
	}
	checkPod(t, m, "Deployment", d.Spec.Template.Spec)
	hub := d.Spec.Template.Spec.Containers[0]
	probe := func(p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.StrVal != "http" {
			t.Errorf("probe %+v, want GET %s on the http port", p, path)
		}
	}
	probe(hub.LivenessProbe, "/healthz")
	probe(hub.ReadinessProbe, "/readyz")
	if len(hub.Ports) != 1 || hub.Ports[0].Name != "http" || hub.Ports[0].ContainerPort != 3001 {
		t.Errorf("hub ports %+v, want http on 3001", hub.Ports)
	}

	svc := m.services[0]
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.StrVal != "http" {
		t.Errorf("the Service selects %v to port %v, want the hubs' http port", svc.Spec.Selector, svc.Spec.Ports)
	}
	pdb := m.pdbs[0]
	if sel, err := v1.LabelSelectorAsSelector(pdb.Spec.Selector); err != nil || !sel.Matches(podLabels) {
		t.Errorf("the PodDisruptionBudget does not select the hubs")
	}
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() < 1 || pdb.Spec.MinAvailable.IntValue() >= int(*d.Spec.Replicas) {
		t.Errorf("minAvailable %v: want at least one hub kept and a drain still possible", pdb.Spec.MinAvailable)
	}
	job := m.jobs[0]
	checkPod(t, m, "Job", job.Spec.Template.Spec)
	if args := job.Spec.Template.Spec.Containers[0].Args; !slices.Equal(args, []string{"migrate"}) {
		t.Errorf("the Job runs %v, want migrate", args)
	}
	np := m.policies[0]
	if sel, err := v1.LabelSelectorAsSelector(&np.Spec.PodSelector); err != nil || !sel.Matches(podLabels) ||
		!slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}) {
		t.Errorf("the NetworkPolicy does not restrict both directions of the hubs' traffic")
	}

	// kustomization.yaml lists every manifest.
	var k struct {
		Resources []string `json:"resources"`
	}
	b, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	slices.Sort(k.Resources)
	if !slices.Equal(k.Resources, m.files) {
		t.Errorf("kustomization.yaml lists %v, the directory holds %v", k.Resources, m.files)
	}
}

// TestManifests_ConfigMapHoldsSettingsTheHubKnows: every key of the
// ConfigMap is a setting of `proxyhub serve`, and together with the
// Secret's database URL they load.
func TestManifests_ConfigMapHoldsSettingsTheHubKnows(t *testing.T) {
	m := load(t)
	var help bytes.Buffer
	_, _ = config.LoadServe([]string{"--help"}, func(string) string { return "" }, &help)
	env := map[string]string{"PROXYHUB_DATABASE_URL": m.secrets[0].StringData["database-url"]}
	for k, v := range m.configMaps[0].Data {
		if !strings.HasPrefix(k, "PROXYHUB_") || !strings.Contains(help.String(), " "+k+" ") {
			t.Errorf("ConfigMap key %s is not a setting of proxyhub serve", k)
		}
		env[k] = v
	}
	if _, err := config.LoadServe(nil, func(k string) string { return env[k] }, io.Discard); err != nil {
		t.Errorf("the ConfigMap's settings do not load: %v", err)
	}
}
