// Package charts holds the Helm chart; its tests render it and decode every
// document strictly into client-go's typed objects.
package charts

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tessera-cdp/tessera/servicetest"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// helmBinary is the helm that scripts/services.sh installs.
func helmBinary(t *testing.T) string {
	t.Helper()
	return servicetest.Helm(t)
}

// rendered is one value set's output, decoded.
type rendered struct {
	cronJobs  map[string]*batchv1.CronJob
	jobs      []*batchv1.Job
	roles     []*rbacv1.Role
	bindings  []*rbacv1.RoleBinding
	accounts  []*corev1.ServiceAccount
	configMap []*corev1.ConfigMap
}

// render runs helm template with the values and decodes every document
// strictly: an unknown field anywhere fails.
func render(t *testing.T, values string) rendered {
	t.Helper()
	dir := t.TempDir()
	vf := filepath.Join(dir, "values.yaml")
	if err := os.WriteFile(vf, []byte(values), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(helmBinary(t), "template", "t", "./tessera", "--namespace", "shop", "--kube-version", "1.31.0", "-f", vf).CombinedOutput()
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	r := rendered{cronJobs: map[string]*batchv1.CronJob{}}
	for _, doc := range bytes.Split(out, []byte("\n---")) {
		var head struct{ Kind string }
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		strict := func(into any) {
			if err := yaml.UnmarshalStrict(doc, into); err != nil {
				t.Fatalf("%s: %v\n%s", head.Kind, err, doc)
			}
		}
		switch head.Kind {
		case "":
			continue
		case "CronJob":
			var c batchv1.CronJob
			strict(&c)
			r.cronJobs[c.Name] = &c
		case "Job":
			var j batchv1.Job
			strict(&j)
			r.jobs = append(r.jobs, &j)
		case "Role":
			var x rbacv1.Role
			strict(&x)
			r.roles = append(r.roles, &x)
		case "RoleBinding":
			var x rbacv1.RoleBinding
			strict(&x)
			r.bindings = append(r.bindings, &x)
		case "ServiceAccount":
			var x corev1.ServiceAccount
			strict(&x)
			r.accounts = append(r.accounts, &x)
		case "ConfigMap":
			var x corev1.ConfigMap
			strict(&x)
			r.configMap = append(r.configMap, &x)
		default:
			t.Errorf("unexpected kind %s", head.Kind)
		}
	}
	return r
}

func TestChartRenders(t *testing.T) {
	for _, c := range []struct {
		name, values string
		check        func(t *testing.T, r rendered)
	}{
		{"defaults", "", func(t *testing.T, r rendered) {
			want := map[string]string{"t-tessera-extract": "15 * * * *", "t-tessera-train": "0 4 * * 0", "t-tessera-score": "30 2 * * *", "t-tessera-export": "30 5 * * *"}
			if len(r.cronJobs) != 4 {
				t.Fatalf("%d CronJobs, want 4", len(r.cronJobs))
			}
			for name, schedule := range want {
				cj := r.cronJobs[name]
				if cj == nil || cj.Spec.Schedule != schedule || cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent || *cj.Spec.TimeZone != "UTC" ||
					*cj.Spec.StartingDeadlineSeconds != 3600 || *cj.Spec.JobTemplate.Spec.BackoffLimit != 2 || *cj.Spec.JobTemplate.Spec.TTLSecondsAfterFinished != 86400 {
					t.Errorf("%s: %+v", name, cj)
					continue
				}
				pod := cj.Spec.JobTemplate.Spec.Template.Spec
				ctr := pod.Containers[0]
				sc := ctr.SecurityContext
				if !*pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault ||
					!*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
					pod.ServiceAccountName != "t-tessera" {
					t.Errorf("%s: security %+v / %+v, account %q", name, pod.SecurityContext, sc, pod.ServiceAccountName)
				}
			}
			if args := strings.Join(r.cronJobs["t-tessera-score"].Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args, " "); args != "run --stages features,score,publish --config /etc/tessera/tessera.yaml" {
				t.Errorf("score args %q", args)
			}
			if len(r.jobs) != 1 || r.jobs[0].Annotations["helm.sh/hook"] != "post-install,pre-upgrade" ||
				r.jobs[0].Spec.Template.Spec.ServiceAccountName != "t-tessera" || *r.jobs[0].Spec.Template.Spec.AutomountServiceAccountToken {
				t.Errorf("migration hook: %+v", r.jobs)
			}
			if len(r.roles) != 1 || len(r.bindings) != 1 || len(r.accounts) != 1 || len(r.configMap) != 1 {
				t.Fatalf("roles %d, bindings %d, accounts %d, configmaps %d", len(r.roles), len(r.bindings), len(r.accounts), len(r.configMap))
			}
			var rules []string
			for _, rule := range r.roles[0].Rules {
				rules = append(rules, strings.Join(rule.APIGroups, ",")+"/"+strings.Join(rule.Resources, ",")+":"+strings.Join(rule.Verbs, ","))
			}
			if got := strings.Join(rules, " "); got != "coordination.k8s.io/leases:get,create,update batch/jobs:create,get,list,watch batch/cronjobs:get" {
				t.Errorf("role rules %s", got)
			}
			if !strings.Contains(r.configMap[0].Data["tessera.yaml"], "addr: clickhouse:9000") {
				t.Errorf("config %q", r.configMap[0].Data["tessera.yaml"])
			}
		}},
		{"secrets-pvc-per-job-settings", `
jobs:
  score: {schedule: "0 1 * * *", suspend: true, backoffLimit: 5, nodeSelector: {pool: batch}, tolerations: [{key: batch, operator: Exists, effect: NoSchedule}]}
  export: {schedule: "0 6 * * *", format: parquet}
exportVolume: {persistentVolumeClaim: marketing-files}
secrets:
  clickhousePassword: {name: ch, key: password}
  postgresDSN: {name: crm, key: dsn}
`, func(t *testing.T, r rendered) {
			score := r.cronJobs["t-tessera-score"]
			pod := score.Spec.JobTemplate.Spec.Template.Spec
			if score.Spec.Schedule != "0 1 * * *" || !*score.Spec.Suspend || *score.Spec.JobTemplate.Spec.BackoffLimit != 5 ||
				pod.NodeSelector["pool"] != "batch" || len(pod.Tolerations) != 1 {
				t.Errorf("score: %+v", score.Spec)
			}
			if *r.cronJobs["t-tessera-extract"].Spec.Suspend {
				t.Error("extract suspended by score's setting")
			}
			var envs []string
			for _, e := range pod.Containers[0].Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					envs = append(envs, e.Name+"="+e.ValueFrom.SecretKeyRef.Name+"/"+e.ValueFrom.SecretKeyRef.Key)
				}
			}
			slices.Sort(envs)
			if got := strings.Join(envs, " "); got != "TESSERA_CLICKHOUSE_PASSWORD=ch/password TESSERA_SOURCE_POSTGRES_DSN=crm/dsn" {
				t.Errorf("secret env %s", got)
			}
			export := r.cronJobs["t-tessera-export"].Spec.JobTemplate.Spec.Template.Spec
			var claim string
			for _, v := range export.Volumes {
				if v.Name == "export" && v.PersistentVolumeClaim != nil {
					claim = v.PersistentVolumeClaim.ClaimName
				}
			}
			if claim != "marketing-files" || !strings.Contains(strings.Join(export.Containers[0].Args, " "), "--format parquet --out /export/{as_of}") {
				t.Errorf("export: claim %q, args %v", claim, export.Containers[0].Args)
			}
		}},
		{"sharded-score", `
jobs:
  score: {completions: 4}
`, func(t *testing.T, r rendered) {
			spec := r.cronJobs["t-tessera-score"].Spec.JobTemplate.Spec
			ctr := spec.Template.Spec.Containers[0]
			if spec.CompletionMode == nil || *spec.CompletionMode != batchv1.IndexedCompletion || *spec.Completions != 4 || *spec.Parallelism != 4 ||
				!strings.Contains(strings.Join(ctr.Args, " "), "--shard $(JOB_COMPLETION_INDEX)/4") {
				t.Errorf("score job: %+v, args %v", spec, ctr.Args)
			}
			var jobName string
			for _, e := range ctr.Env {
				if e.Name == "TESSERA_SHARD_JOB" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
					jobName = e.ValueFrom.FieldRef.FieldPath
				}
			}
			if jobName != "metadata.labels['batch.kubernetes.io/job-name']" {
				t.Errorf("TESSERA_SHARD_JOB from %q", jobName)
			}
			if other := r.cronJobs["t-tessera-extract"].Spec.JobTemplate.Spec; other.CompletionMode != nil {
				t.Errorf("extract is indexed too: %+v", other)
			}
		}},
		{"existing-account-no-migrations", `
serviceAccount: {create: false, name: shop-batch}
migrations: {enabled: false}
`, func(t *testing.T, r rendered) {
			if len(r.accounts) != 0 || len(r.jobs) != 0 || r.bindings[0].Subjects[0].Name != "shop-batch" ||
				r.cronJobs["t-tessera-train"].Spec.JobTemplate.Spec.Template.Spec.ServiceAccountName != "shop-batch" {
				t.Errorf("accounts %d, jobs %d, binding %+v", len(r.accounts), len(r.jobs), r.bindings[0].Subjects)
			}
		}},
		{"existing-default-account", `
serviceAccount: {create: false}
`, func(t *testing.T, r rendered) {
			// No account is created and none named: the pods run as the namespace's default, which the Role is bound to.
			if len(r.accounts) != 0 || r.bindings[0].Subjects[0].Name != "default" ||
				r.cronJobs["t-tessera-score"].Spec.JobTemplate.Spec.Template.Spec.ServiceAccountName != "default" {
				t.Errorf("accounts %d, binding %+v, score's account %q", len(r.accounts), r.bindings[0].Subjects,
					r.cronJobs["t-tessera-score"].Spec.JobTemplate.Spec.Template.Spec.ServiceAccountName)
			}
		}},
		{"every-knob", everyKnob, checkEveryKnob},
		{"default-resources", "", func(t *testing.T, r rendered) {
			// From the peaks at a million customers (README): extract 677 MiB, train's features 3,198, score+publish 3,916, export 2,272.
			want := map[string]string{"extract": "768Mi/1536Mi", "train": "3584Mi/5Gi", "score": "4Gi/6Gi", "export": "2560Mi/4Gi"}
			for job, w := range want {
				res := r.cronJobs["t-tessera-"+job].Spec.JobTemplate.Spec.Template.Spec.Containers[0].Resources
				if got := res.Requests.Memory().String() + "/" + res.Limits.Memory().String(); got != w {
					t.Errorf("%s: memory %s, want %s", job, got, w)
				}
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) { c.check(t, render(t, c.values)) })
	}
}

// everyKnob sets every value a cluster may need besides the defaults.
const everyKnob = `
global: {imageRegistry: registry.example.com}
image: {digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
imagePullSecrets: [{name: regcred}]
serviceAccount: {annotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::1:role/tessera"}}
podAnnotations: {prometheus.io/scrape: "false"}
podLabels: {team: data}
priorityClassName: batch-low
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms: [{matchExpressions: [{key: pool, operator: In, values: [batch]}]}]
podSecurityContext: {runAsNonRoot: true, runAsUser: 1000700000, runAsGroup: null, fsGroup: 1000700000}
containerSecurityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: false}
extraEnv: [{name: TESSERA_LOG_LEVEL, value: debug}]
extraEnvFrom: [{configMapRef: {name: shop-settings}}]
extraVolumes: [{name: ca, secret: {secretName: clickhouse-ca}}]
extraVolumeMounts: [{name: ca, mountPath: /etc/clickhouse-ca, readOnly: true}]
secrets:
  clickhouseSourceDSN: {name: clickstream, key: dsn}
`

func checkEveryKnob(t *testing.T, r rendered) {
	type podOf struct {
		name string
		spec corev1.PodTemplateSpec
	}
	var pods []podOf
	for name, cj := range r.cronJobs {
		pods = append(pods, podOf{name, cj.Spec.JobTemplate.Spec.Template})
	}
	for _, j := range r.jobs {
		pods = append(pods, podOf{j.Name, j.Spec.Template})
	}
	if len(pods) != 5 {
		t.Fatalf("%d pods, want the 4 CronJobs' and the migration's", len(pods))
	}
	for _, p := range pods {
		spec, ctr := p.spec.Spec, p.spec.Spec.Containers[0]
		var env, mounts []string
		for _, e := range ctr.Env {
			switch {
			case e.Name == "TESSERA_LOG_LEVEL" && e.Value == "debug":
				env = append(env, e.Name)
			case e.Name == "TESSERA_SOURCE_CLICKHOUSE_DSN" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef.Name == "clickstream":
				env = append(env, e.Name)
			}
		}
		for _, m := range ctr.VolumeMounts {
			if m.Name == "ca" && m.MountPath == "/etc/clickhouse-ca" {
				mounts = append(mounts, m.Name)
			}
		}
		hasVolume := slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == "ca" && v.Secret != nil })
		checks := map[string]bool{
			"image by digest":   ctr.Image == "ghcr.io/tessera-cdp/tessera@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			"imagePullSecrets":  len(spec.ImagePullSecrets) == 1 && spec.ImagePullSecrets[0].Name == "regcred",
			"podAnnotations":    p.spec.Annotations["prometheus.io/scrape"] == "false",
			"podLabels":         p.spec.Labels["team"] == "data",
			"priorityClassName": spec.PriorityClassName == "batch-low",
			"affinity":          spec.Affinity != nil && spec.Affinity.NodeAffinity != nil,
			// merged over the defaults (null drops a key): runAsGroup is set to null above, the seccomp profile stays
			"podSecurityContext": spec.SecurityContext != nil && *spec.SecurityContext.RunAsUser == 1000700000 && spec.SecurityContext.RunAsGroup == nil &&
				spec.SecurityContext.SeccompProfile != nil && spec.SecurityContext.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault,
			"containerSecContext":  ctr.SecurityContext != nil && !*ctr.SecurityContext.ReadOnlyRootFilesystem,
			"extraEnv, source DSN": len(env) == 2,
			"extraEnvFrom":         len(ctr.EnvFrom) == 1 && ctr.EnvFrom[0].ConfigMapRef.Name == "shop-settings",
			"extraVolumes, mounts": hasVolume && len(mounts) == 1,
		}
		for what, ok := range checks {
			if !ok {
				t.Errorf("%s: %s not applied", p.name, what)
			}
		}
	}
	if len(r.accounts) != 1 || r.accounts[0].Annotations["eks.amazonaws.com/role-arn"] != "arn:aws:iam::1:role/tessera" {
		t.Errorf("service account annotations: %+v", r.accounts)
	}
}

// TestChartRejects: the values schema refuses unknown keys and wrong types,
// and lint is clean.
func TestChartRejects(t *testing.T) {
	helm := helmBinary(t)
	if out, err := exec.Command(helm, "lint", "--strict", "--kube-version", "1.31.0", "./tessera").CombinedOutput(); err != nil {
		t.Errorf("helm lint --strict: %v\n%s", err, out)
	}
	for _, set := range []string{"jobs.extract.bogus=1", "jobDefaults.backoffLimit=abc", "jobs.export.format=xml", "image.pullPolicy=Sometimes", "unknownKey=1",
		"image.digest=latest", "podLabels.team=1", "imagePullSecrets[0].nam=x", "serviceAccount.annotation.a=b", "secrets.clickhouseSourceDSN.bogus=1"} {
		out, err := exec.Command(helm, "template", "t", "./tessera", "--kube-version", "1.31.0", "--set", set).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "schema") {
			t.Errorf("--set %s: rendered (%v)\n%s", set, err, out)
		}
	}
}

// TestChartREADME: the chart's README names every value of values.yaml, to
// the second level of keys (jobs: each job).
func TestChartREADME(t *testing.T) {
	b, err := os.ReadFile("tessera/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(b, &values); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("tessera/README.md")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for k, v := range values {
		paths := []string{k}
		if m, ok := v.(map[string]any); ok && len(m) > 0 && k != "config" && k != "podSecurityContext" && k != "containerSecurityContext" {
			paths = nil
			for sub := range m {
				paths = append(paths, k+"."+sub)
			}
		}
		for _, p := range paths {
			if !strings.Contains(string(readme), "`"+p+"`") {
				missing = append(missing, p)
			}
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("charts/tessera/README.md does not name %v", missing)
	}
}
