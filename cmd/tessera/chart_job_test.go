package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/tessera-cdp/tessera/config"
	"github.com/tessera-cdp/tessera/kube"
	"github.com/tessera-cdp/tessera/pipeline"
	"github.com/tessera-cdp/tessera/servicetest"
	"github.com/tessera-cdp/tessera/warehouse"
)

// chart is the Helm chart rendered by helm template with a test's values:
// its CronJobs by component, and the files of its ConfigMap.
type chart struct {
	cronJobs map[string]*batchv1.CronJob
	config   map[string]string
}

// renderChart runs helm template on the chart with values (YAML).
func renderChart(t *testing.T, ns, values string) chart {
	t.Helper()
	vf := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(vf, []byte(values), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(servicetest.Helm(t), "template", "t", "../../charts/tessera", "--namespace", ns, "--kube-version", "1.31.0", "-f", vf).CombinedOutput()
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	c := chart{cronJobs: map[string]*batchv1.CronJob{}}
	for _, doc := range bytes.Split(out, []byte("\n---")) {
		var head struct{ Kind string }
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		switch head.Kind {
		case "CronJob":
			var cj batchv1.CronJob
			if err := yaml.UnmarshalStrict(doc, &cj); err != nil {
				t.Fatal(err)
			}
			cj.Namespace = ns
			c.cronJobs[cj.Labels["app.kubernetes.io/component"]] = &cj
		case "ConfigMap":
			var cm corev1.ConfigMap
			if err := yaml.UnmarshalStrict(doc, &cm); err != nil {
				t.Fatal(err)
			}
			c.config = cm.Data
		}
	}
	if len(c.cronJobs) == 0 || c.config == nil {
		t.Fatalf("helm template rendered no CronJob or no ConfigMap:\n%s", out)
	}
	return c
}

// kubelet starts the pods of Jobs as processes of this test binary run as
// tessera, as a kubelet would start their containers: the container's
// rendered arguments and environment, $(VAR) expanded, the fields a pod
// reads of itself resolved, the Job controller's JOB_COMPLETION_INDEX set,
// and each volume a folder (the ConfigMap's files; an emptyDir per pod, or
// one shared by every pod when shared is set, as a shared volume would be).
type kubelet struct {
	t      *testing.T
	config map[string]string
	shared string
	env    []string // what the machine adds: addresses of the test's services
}

// pod is one started pod: its name, process and output.
type pod struct {
	name string
	cmd  *exec.Cmd
	out  *bytes.Buffer
}

func (k kubelet) start(job *batchv1.Job, index int) *pod {
	t := k.t
	spec := job.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("job %s: %d containers", job.Name, len(spec.Containers))
	}
	c := spec.Containers[0]
	name := fmt.Sprintf("%s-%d-x%d", job.Name, index, time.Now().UnixNano()%100000)
	dirs := map[string]string{} // mount path → folder
	for _, m := range c.VolumeMounts {
		i := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		if i < 0 {
			t.Fatalf("mount %s: no volume", m.Name)
		}
		v := spec.Volumes[i]
		dir := t.TempDir()
		switch {
		case v.ConfigMap != nil:
			for file, text := range k.config {
				if err := os.WriteFile(filepath.Join(dir, file), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		case v.EmptyDir != nil && k.shared != "":
			dir = k.shared
		case v.EmptyDir != nil:
		default:
			t.Fatalf("volume %s: neither a ConfigMap nor an emptyDir", v.Name)
		}
		dirs[m.MountPath] = dir
	}
	local := func(s string) string { // a path in the container, here
		for mount, dir := range dirs {
			if s == mount || strings.HasPrefix(s, mount+"/") {
				return dir + strings.TrimPrefix(s, mount)
			}
		}
		return s
	}
	vars := map[string]string{}
	var env []string
	if job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion {
		vars["JOB_COMPLETION_INDEX"] = fmt.Sprint(index)
		env = append(env, "JOB_COMPLETION_INDEX="+fmt.Sprint(index))
	}
	for _, e := range c.Env {
		v := e.Value
		switch {
		case e.ValueFrom == nil:
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			v = name
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.labels['batch.kubernetes.io/job-name']":
			v = job.Name // the Job controller labels its pods so
		default:
			t.Fatalf("env %s: a source this kubelet does not know: %+v", e.Name, e.ValueFrom)
		}
		v = local(v)
		vars[e.Name] = v
		env = append(env, e.Name+"="+v)
	}
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		for n, v := range vars {
			a = strings.ReplaceAll(a, "$("+n+")", v)
		}
		args[i] = local(a)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(append(os.Environ(), "TESSERA_TEST_RUN_MAIN=1"), k.env...), env...)
	out := new(bytes.Buffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return &pod{name: name, cmd: cmd, out: out}
}

// run starts a Job's pods (one, or every index of an Indexed Job) at once.
func (k kubelet) run(job *batchv1.Job) []*pod {
	n := 1
	if job.Spec.Completions != nil {
		n = int(*job.Spec.Completions)
	}
	pods := make([]*pod, n)
	for i := range pods {
		pods[i] = k.start(job, i)
	}
	return pods
}

// podDeadline is how long wait lets the pods of a test's Jobs run: they
// finish in seconds; pods that wait for each other's locks would wait for
// kube.wait (2 hours).
const podDeadline = 3 * time.Minute

// wait waits for every pod and fails the test if one failed or did not
// finish by podDeadline.
func (k kubelet) wait(pods []*pod) {
	k.t.Helper()
	deadline := time.AfterFunc(podDeadline, func() {
		for _, p := range pods {
			p.cmd.Process.Kill()
		}
	})
	defer deadline.Stop()
	var wg sync.WaitGroup
	errs := make([]error, len(pods))
	for i, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.cmd.Wait()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			k.t.Fatalf("pod %s: %v (killed if still running after %s)\n%s", pods[i].name, err, podDeadline, pods[i].out.String())
		}
	}
}

// logged is when a pod logged a message first (JSON lines), and the line.
func logged(t *testing.T, p *pod, msg string) (time.Time, string) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(p.out.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l struct {
			Msg  string    `json:"msg"`
			Time time.Time `json:"time"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == msg {
			return l.Time, sc.Text()
		}
	}
	t.Fatalf("pod %s never logged %q:\n%s", p.name, msg, p.out.String())
	return time.Time{}, ""
}

// TestChartJob: the nightly Job as the chart deploys it. helm template
// renders the chart with 4 extract pods and 4 score pods; its extract
// CronJob's Job runs (4 pods at once, each landing its share), then train's,
// then the score CronJob's Job (features, score and publish split
// over 4 pods, all started at once) with every setting at its default, the
// run lock included (kube.lock auto). A second Job for the same date starts
// while the first runs: it waits for the whole of the first Job, then runs.
// The date then holds exactly what one process publishes. With a Lease on
// the real kube-apiserver (the pods reach it as the chart's ServiceAccount),
// then with the warehouse's lock (no Kubernetes) on ClickHouse and on the
// embedded store (one extract pod: a sharded extract needs ClickHouse).
func TestChartJob(t *testing.T) {
	s := newCLIShop(t, 2000)
	const asOf = "2026-11-01"
	day := mustDate(t, asOf)
	// extractPods: the extract Job's pods (the embedded store takes one).
	values := func(addr, db string, extractPods int) string {
		return fmt.Sprintf("jobs:\n  extract:\n    completions: %d\n  score:\n    completions: 4\nconfig:\n  clickhouse:\n    addr: %q\n    database: %q\n  source:\n    files:\n      dir: %q\n", extractPods, addr, db, s.shop)
	}
	// runJobs runs extract and train, then two score Jobs for the date, the
	// second started a second after the first, and returns their pods.
	runJobs := func(t *testing.T, c chart, k kubelet) (first, second []*pod) {
		for _, component := range []string{"extract", "train"} {
			k.wait(k.run(kube.BackfillJob(c.cronJobs[component], day)))
		}
		scoreJob := kube.BackfillJob(c.cronJobs["score"], day)
		if n := *scoreJob.Spec.Completions; n != 4 || *scoreJob.Spec.CompletionMode != batchv1.IndexedCompletion {
			t.Fatalf("the score Job: %d completions, mode %s", n, *scoreJob.Spec.CompletionMode)
		}
		again := scoreJob.DeepCopy()
		again.Name = "t-tessera-score-manual" // kubectl create job --from=cronjob/t-tessera-score
		first = k.run(scoreJob)
		time.Sleep(time.Second)
		second = k.run(again)
		k.wait(append(slices.Clone(first), second...))
		// The second Job took the date's stages only once the first had
		// published (the log's times are to the second).
		done, _ := logged(t, first[0], "published")
		for _, p := range second {
			took, line := logged(t, p, "run lock taken")
			if took.Before(done.Truncate(time.Second)) {
				t.Errorf("pod %s of the second Job took the lock at %s, before the first Job published at %s: %s", p.name, took, done, line)
			}
		}
		for _, p := range first[1:] {
			took, _ := logged(t, p, "run lock taken")
			if took.After(done) {
				t.Errorf("pod %s of the first Job took its lock after its Job published", p.name)
			}
		}
		return first, second
	}
	noKube := []string{"KUBERNETES_SERVICE_HOST=", "TESSERA_KUBE_KUBECONFIG="}

	ref := s.db(t, "tessera_ref_")
	if b, err := s.command(t, ref, noKube, "run", "--as-of", asOf).CombinedOutput(); err != nil {
		t.Fatalf("one process: %v\n%s", err, b)
	}
	want := published(t, s.conn, ref, asOf)

	t.Run("lease", func(t *testing.T) {
		ns := fmt.Sprintf("tessera-job-%d", time.Now().UnixNano()%1e9)
		db := s.db(t, "tessera_job_")
		kubeconfig := serviceAccountKubeconfig(t, ns, values(s.ch, db, 4))
		c := renderChart(t, ns, values(s.ch, db, 4))
		// A pod (KUBERNETES_SERVICE_HOST set: kube.lock auto takes a Lease)
		// that reaches the API server through a kubeconfig of the chart's
		// ServiceAccount, not the in-cluster files a kubelet mounts.
		k := kubelet{t: t, config: c.config, env: []string{"KUBERNETES_SERVICE_HOST=127.0.0.1", "TESSERA_KUBE_KUBECONFIG=" + kubeconfig}}
		first, _ := runJobs(t, c, k)
		if _, line := logged(t, first[1], "run lock taken"); !strings.Contains(line, "lease "+ns+"/tessera-features-20261101") || !strings.Contains(line, "held by job "+kube.BackfillJobName("t-tessera-score", day)) {
			t.Errorf("pod 1 did not hold the Job's lease: %s", line)
		}
		if got := published(t, s.conn, db, asOf); got != want {
			t.Errorf("two Jobs of 4 pods published\n%s\none process publishes\n%s", got, want)
		}
		admin, _, _ := kubeClients(t, ns, "t-tessera")
		leases, err := admin.CoordinationV1().Leases(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range leases.Items {
			if h := l.Spec.HolderIdentity; h != nil && *h != "" {
				t.Errorf("lease %s still held by %s after both Jobs", l.Name, *h)
			}
		}
		if len(leases.Items) != 3+3*4+1+4+1 {
			t.Errorf("%d leases, want 21 (the score Job's 3 stages, 3 a pod; the extract Job's and 1 a pod; train; none for the category medians: the pods share their prices)", len(leases.Items))
		}
	})
	t.Run("warehouse lock", func(t *testing.T) {
		db := s.db(t, "tessera_job_")
		c := renderChart(t, "shop", values(s.ch, db, 4))
		runJobs(t, c, kubelet{t: t, config: c.config, env: noKube})
		if got := published(t, s.conn, db, asOf); got != want {
			t.Errorf("two Jobs of 4 pods published\n%s\none process publishes\n%s", got, want)
		}
	})
	t.Run("embedded", func(t *testing.T) {
		refDir := t.TempDir()
		cmd := exec.Command(os.Args[0], "run", "--as-of", asOf)
		cmd.Env = append(os.Environ(), append(noKube, "TESSERA_TEST_RUN_MAIN=1", "TESSERA_CLICKHOUSE_ADDR=", "TESSERA_SOURCE_FILES_DIR="+s.shop, "TESSERA_DATA_DIR="+refDir)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("one process: %v\n%s", err, b)
		}
		want := embeddedPublished(t, refDir, day)
		shared := t.TempDir() // one data folder for every pod: the embedded store
		// The chart's schema wants a ClickHouse: the embedded store is not a
		// configuration it deploys. Its pods' command lines, with a config
		// that names no ClickHouse.
		c := renderChart(t, "shop", values("clickhouse:9000", "tessera", 1))
		yml := c.config["tessera.yaml"]
		if !strings.Contains(yml, "addr: clickhouse:9000") {
			t.Fatalf("the ConfigMap's config:\n%s", yml)
		}
		c.config["tessera.yaml"] = strings.Replace(yml, "addr: clickhouse:9000", `addr: ""`, 1)
		runJobs(t, c, kubelet{t: t, config: c.config, shared: shared, env: noKube})
		if got := embeddedPublished(t, shared, day); got != want {
			t.Errorf("two Jobs of 4 pods published\n%s\none process publishes\n%s", got, want)
		}
	})
}

// embeddedPublished is what published checks, of the embedded store in
// dataDir: rows, distinct keys and a hash of the same columns of each table.
func embeddedPublished(t *testing.T, dataDir string, day time.Time) string {
	t.Helper()
	mem := memory.NewGoAllocator()
	st, err := pipeline.OpenStore(context.Background(), config.ClickHouse{}, dataDir, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []string
	for _, p := range publishedTables {
		i := slices.IndexFunc(warehouse.Tables, func(tb warehouse.Table) bool { return tb.Name == p.table })
		schema := warehouse.Tables[i].Columns(strings.Split(p.cols, ", ")...)
		rec, err := st.ReadPartition(context.Background(), mem, p.table, schema, day)
		if err != nil {
			t.Fatalf("%s: %v", p.table, err)
		}
		keyCols := strings.Split(strings.Trim(p.key, "()"), ", ")
		rows, keys := make([]string, rec.NumRows()), map[string]bool{}
		for r := range rows {
			var row, key []string
			for c, f := range schema.Fields() {
				v := rec.Column(c).ValueStr(r)
				row = append(row, v)
				if slices.Contains(keyCols, f.Name) {
					key = append(key, v)
				}
			}
			rows[r] = strings.Join(row, "\x1f")
			keys[strings.Join(key, "\x1f")] = true
		}
		rec.Release()
		if len(keys) != len(rows) {
			t.Errorf("%s: %d rows for %d keys: duplicates", p.table, len(rows), len(keys))
		}
		slices.Sort(rows)
		out = append(out, fmt.Sprintf("%s %d %x", p.table, len(rows), sha256.Sum256([]byte(strings.Join(rows, "\n")))))
	}
	return strings.Join(out, "\n")
}

// kubeClients connects to the test kube-apiserver as admin and as a
// ServiceAccount of ns (impersonated).
func kubeClients(t *testing.T, ns, account string) (admin, sa kubernetes.Interface, kubeconfig string) {
	t.Helper()
	kubeconfig = servicetest.Kubeconfig(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	admin = kubernetes.NewForConfigOrDie(cfg)
	as := *cfg
	as.Impersonate.UserName = "system:serviceaccount:" + ns + ":" + account
	return admin, kubernetes.NewForConfigOrDie(&as), kubeconfig
}

// serviceAccountKubeconfig installs the chart's objects (helm install, no
// hooks) into a namespace of the test kube-apiserver and writes a
// kubeconfig that acts as the chart's ServiceAccount there, in that
// namespace: what a pod of the chart may do, it may do.
func serviceAccountKubeconfig(t *testing.T, ns, values string) string {
	t.Helper()
	admin, _, kubeconfig := kubeClients(t, ns, "t-tessera")
	vf := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(vf, []byte(values), 0o644); err != nil {
		t.Fatal(err)
	}
	install := exec.Command(servicetest.Helm(t), "install", "t", "../../charts/tessera", "--namespace", ns, "--create-namespace",
		"--kubeconfig", kubeconfig, "--no-hooks", "-f", vf)
	install.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	t.Cleanup(func() { admin.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cur := cfg.Contexts[cfg.CurrentContext]
	cur.Namespace = ns
	cfg.AuthInfos[cur.AuthInfo].Impersonate = "system:serviceaccount:" + ns + ":t-tessera"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}
