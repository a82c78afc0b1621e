package charts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tessera-cdp/tessera/kube"
	"github.com/tessera-cdp/tessera/servicetest"
)

// cluster connects to the test kube-apiserver that scripts/services.sh starts,
// as admin and as the chart's ServiceAccount (impersonated).
func cluster(t *testing.T, ns, account string) (admin, sa kubernetes.Interface, kubeconfig string) {
	t.Helper()
	kubeconfig = servicetest.Kubeconfig(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if admin, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	as := *cfg
	as.Impersonate.UserName = "system:serviceaccount:" + ns + ":" + account
	if sa, err = kubernetes.NewForConfig(&as); err != nil {
		t.Fatal(err)
	}
	return admin, sa, kubeconfig
}

// TestInstallInCluster: helm installs the chart into a real API server; the
// ServiceAccount can do exactly what the code needs; two runners contend for
// a lease and one proceeds; a backfill of 5 dates makes 5 Jobs with their
// dates. (No kubelet: the Jobs' pods stay pending, which the API side does not
// need.)
func TestInstallInCluster(t *testing.T) {
	ns := fmt.Sprintf("tessera-test-%d", time.Now().UnixNano()%1e9)
	admin, sa, kubeconfig := cluster(t, ns, "t-tessera")
	ctx := context.Background()
	helm := helmBinary(t)
	install := exec.Command(helm, "install", "t", "./tessera", "--namespace", ns, "--create-namespace", "--kubeconfig", kubeconfig, "--no-hooks")
	install.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	t.Cleanup(func() { admin.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	cjs, err := admin.BatchV1().CronJobs(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cjs.Items {
		names = append(names, c.Name)
	}
	if strings.Join(names, " ") != "t-tessera-export t-tessera-extract t-tessera-score t-tessera-train" {
		t.Errorf("CronJobs %v", names)
	}
	if _, err := admin.RbacV1().Roles(ns).Get(ctx, "t-tessera", metav1.GetOptions{}); err != nil {
		t.Errorf("Role: %v", err)
	}
	if _, err := admin.CoreV1().ServiceAccounts(ns).Get(ctx, "t-tessera", metav1.GetOptions{}); err != nil {
		t.Errorf("ServiceAccount: %v", err)
	}

	// What the ServiceAccount may do, asked of the API server's authorizer.
	user := "system:serviceaccount:" + ns + ":t-tessera"
	for _, c := range []struct {
		group, resource, verb, namespace string
		allowed                          bool
	}{
		{"coordination.k8s.io", "leases", "get", ns, true},
		{"coordination.k8s.io", "leases", "create", ns, true},
		{"coordination.k8s.io", "leases", "update", ns, true},
		{"batch", "jobs", "create", ns, true},
		{"batch", "jobs", "watch", ns, true},
		{"batch", "cronjobs", "get", ns, true},
		{"coordination.k8s.io", "leases", "delete", ns, false},
		{"batch", "jobs", "delete", ns, false},
		{"batch", "cronjobs", "create", ns, false},
		{"", "pods", "create", ns, false},
		{"", "secrets", "get", ns, false},
		{"coordination.k8s.io", "leases", "get", "default", false},
		{"", "nodes", "list", "", false},
	} {
		r, err := admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authv1.SubjectAccessReview{Spec: authv1.SubjectAccessReviewSpec{
			User: user, ResourceAttributes: &authv1.ResourceAttributes{Group: c.group, Resource: c.resource, Verb: c.verb, Namespace: c.namespace}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status.Allowed != c.allowed {
			t.Errorf("%s %s.%s in %q: allowed %v, want %v", c.verb, c.resource, c.group, c.namespace, r.Status.Allowed, c.allowed)
		}
	}

	// Two runners for the same stage and date, as the ServiceAccount: one proceeds.
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []*kube.Lock
	var lost []error
	for _, who := range []string{"cron-run", "manual-run"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := kube.AcquireLock(ctx, sa, ns, "score", day, who, 20*time.Second, false, time.Second)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				lost = append(lost, err)
			} else {
				won = append(won, l)
			}
		}()
	}
	wg.Wait()
	if len(won) != 1 || len(lost) != 1 || !errors.Is(lost[0], kube.ErrLocked) {
		t.Fatalf("%d runners proceeded, %d were refused (%v); want one each", len(won), len(lost), lost)
	}
	waited := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		l, err := kube.AcquireLock(wctx, sa, ns, "score", day, "third-run", 20*time.Second, true, 200*time.Millisecond)
		if err == nil {
			err = l.Release(ctx)
		}
		waited <- err
	}()
	time.Sleep(time.Second)
	if err := won[0].Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-waited; err != nil {
		t.Errorf("a waiting runner after the release: %v", err)
	}

	// Backfill of 5 dates from the score CronJob, as the ServiceAccount.
	var out bytes.Buffer
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	backfilled := make(chan error, 1)
	go func() {
		_, err := kube.Backfill(bctx, sa, kube.BackfillOptions{CronJob: "t-tessera-score", Namespace: ns, From: day.AddDate(0, 0, -4), To: day,
			Parallel: 5, Poll: 500 * time.Millisecond, Progress: time.Second}, &out)
		backfilled <- err
	}()
	var list *batchv1.JobList
	for start := time.Now(); time.Since(start) < 30*time.Second; time.Sleep(200 * time.Millisecond) {
		if list, err = admin.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: "tessera/backfill=true"}); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) >= 5 {
			break
		}
	}
	cancel() // no kubelet: the Jobs never finish, so the backfill can only wait
	if err := <-backfilled; !errors.Is(err, context.Canceled) {
		t.Errorf("backfill: %v, want it waiting until cancelled", err)
	}
	var dates []string
	for _, j := range list.Items {
		args := j.Spec.Template.Spec.Containers[0].Args
		dates = append(dates, args[len(args)-1])
		if len(j.OwnerReferences) != 1 || j.OwnerReferences[0].Kind != "CronJob" || j.Spec.Template.Spec.ServiceAccountName != "t-tessera" {
			t.Errorf("job %s: owners %+v, account %q", j.Name, j.OwnerReferences, j.Spec.Template.Spec.ServiceAccountName)
		}
	}
	if strings.Join(dates, " ") != "2026-10-28 2026-10-29 2026-10-30 2026-10-31 2026-11-01" {
		t.Errorf("backfill made jobs for %v\n%s", dates, out.String())
	}
	pods, _ := admin.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	t.Logf("%d CronJobs, %d backfill Jobs, %d pods (no kubelet here: %v)", len(cjs.Items), len(list.Items), len(pods.Items), corev1.PodPending)
}
