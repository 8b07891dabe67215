/*
Copyright The Firescope Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package incident_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/mock/pagerduty"
	"firescope.dev/firescope/internal/mock/slack"
	"firescope.dev/firescope/internal/ratelimit"
	"firescope.dev/firescope/internal/testenv"
)

const routingKey = "R0UT1NGKEYF1RESC0PE0000000000001"

// channels creates a namespace with a ResponsePolicy named "default" that announces to a fake
// Slack and pages a fake PagerDuty, with the given sitrep cadence.
func channels(t *testing.T, e *testenv.Env, cadence time.Duration) (string, *slack.Server, *pagerduty.Server) {
	t.Helper()
	ctx := context.Background()
	sl, pd := slack.New(), pagerduty.New()
	t.Cleanup(sl.Close)
	t.Cleanup(pd.Close)
	ns := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	if len(ns) > 60 {
		ns = ns[:60]
	}
	must(t, e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	must(t, e.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"firescope.dev/credential": "true"}, Annotations: credentials.Annotations(credentials.Slack, "127.0.0.1"), Name: "comms", Namespace: ns},
		StringData: map[string]string{"webhook-url": sl.WebhookURL()}}))
	must(t, e.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"firescope.dev/credential": "true"}, Annotations: credentials.Annotations(credentials.PagerDuty, "127.0.0.1"), Name: "pagerduty", Namespace: ns},
		StringData: map[string]string{"routing-key": routingKey}}))
	d := &metav1.Duration{Duration: cadence}
	must(t, e.Client.Create(ctx, &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns},
		Spec: v1alpha1.ResponsePolicySpec{
			Purpose:       v1alpha1.PurposeDrill, // cadences of seconds, so that the tests run fast
			SitrepCadence: v1alpha1.SitrepCadence{Investigating: d, Confirmed: d, Major: d},
			CommsChannel:  &v1alpha1.CommsChannel{Slack: &v1alpha1.SlackChannel{WebhookURLSecretRef: v1alpha1.SecretKeyReference{Name: "comms", Key: "webhook-url"}}},
			Paging: &v1alpha1.Paging{PagerDuty: v1alpha1.PagerDuty{URL: pd.EventsURL(),
				RoutingKeySecretRef: v1alpha1.SecretKeyReference{Name: "pagerduty", Key: "routing-key"}}},
		}}))
	return ns, sl, pd
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func confirmedIncident(ns, name string) *v1alpha1.Incident {
	inc := newIncident(name)
	inc.Namespace = ns
	inc.Spec.State = v1alpha1.StateConfirmed
	inc.Spec.Roles.Communications = "keiko"
	return inc
}

func countPrefix(texts []string, prefix string) int {
	n := 0
	for _, s := range texts {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

func eventNotes(t *testing.T, c client.Client, ns, name, reason string) []string {
	t.Helper()
	var out []string
	for _, e := range eventsIn(t, c, ns, name) {
		if strings.HasPrefix(e, reason+": ") {
			out = append(out, e)
		}
	}
	return out
}

func TestIntegrationSitrepOverdueOncePerIntervalUntilASitrep(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ns, sl, _ := channels(t, e, 3*time.Second)
	inc := confirmedIncident(ns, "overdue")
	must(t, e.As("ricardo").Create(ctx, inc))

	// Two missed intervals: reminders at about 3s and 6s, each once in Events and in Slack.
	testenv.Eventually(t, 15*time.Second, func() error {
		if n := countPrefix(sl.Texts(), "@ricardo: Sitrep overdue"); n < 2 {
			return fmt.Errorf("%d overdue reminders in Slack: %q", n, sl.Texts())
		}
		return nil
	})
	got := &v1alpha1.Incident{}
	must(t, e.Client.Get(ctx, client.ObjectKeyFromObject(inc), got))
	if c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionSitrepCurrent); c == nil || c.Reason != v1alpha1.ReasonOverdue {
		t.Fatalf("SitrepCurrent %+v, want Overdue", c)
	}
	patch := client.MergeFrom(got.DeepCopy())
	got.Spec.Sitreps = append(got.Spec.Sitreps, v1alpha1.Sitrep{Summary: "Postgres provisioning restored", Actions: "Noah is draining the queue"})
	must(t, e.As("ricardo").Patch(ctx, got, patch))
	testenv.Eventually(t, 5*time.Second, func() error {
		cur := &v1alpha1.Incident{}
		must(t, e.Client.Get(ctx, client.ObjectKeyFromObject(inc), cur))
		if c := meta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionSitrepCurrent); c == nil || c.Reason != v1alpha1.ReasonCurrent {
			return fmt.Errorf("SitrepCurrent %+v, want Current", c)
		}
		return nil
	})
	before := countPrefix(sl.Texts(), "@ricardo: Sitrep overdue")
	// The next reminder counts from the new sitrep, 3s later; by then every reminder has had
	// time to be sent twice if it ever would be.
	testenv.Eventually(t, 15*time.Second, func() error {
		if n := countPrefix(sl.Texts(), "@ricardo: Sitrep overdue"); n != before+1 {
			return fmt.Errorf("%d overdue reminders, want %d", n, before+1)
		}
		return nil
	})
	texts := sl.Texts()
	events := eventNotes(t, e.Client, ns, inc.Name, "SitrepOverdue")
	if n := countPrefix(texts, "@ricardo: Sitrep overdue"); n != len(events) {
		t.Fatalf("%d reminders in Slack but %d SitrepOverdue Events:\n%q\n%q", n, len(events), texts, events)
	}
	for _, want := range []string{"@all: Incident declared (Confirmed)", "@all: IC -> ricardo", "@all: Comms -> keiko", "@all: Sitrep 1: *EC2 API errors*"} {
		if countPrefix(texts, want) != 1 {
			t.Errorf("Slack has %d of %q:\n%q", countPrefix(texts, want), want, texts)
		}
	}
	sitrep := texts[slices.IndexFunc(texts, func(s string) bool { return strings.HasPrefix(s, "@all: Sitrep 1") })]
	for _, part := range []string{"Postgres provisioning restored", "*Actions:* Noah is draining the queue", "IC: ricardo", "Comms: keiko"} {
		if !strings.Contains(sitrep, part) {
			t.Errorf("sitrep announcement lacks %q:\n%s", part, sitrep)
		}
	}
}

func TestIntegrationPagesOnDeclareResolvesOnResolveAndDrillsNeverPage(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ns, sl, pd := channels(t, e, time.Hour)
	inc := confirmedIncident(ns, "paged")
	must(t, e.As("ricardo").Create(ctx, inc))
	drill := confirmedIncident(ns, "drill")
	drill.Spec.Drill = true
	must(t, e.As("ricardo").Create(ctx, drill))
	testenv.Eventually(t, 10*time.Second, func() error {
		if len(pd.OpenAlerts()) != 1 {
			return fmt.Errorf("open alerts %+v", pd.OpenAlerts())
		}
		return nil
	})
	patch := client.MergeFrom(inc.DeepCopy())
	inc.Spec.State = v1alpha1.StateResolved
	must(t, e.As("ricardo").Patch(ctx, inc, patch))
	patch = client.MergeFrom(drill.DeepCopy())
	drill.Spec.State = v1alpha1.StateResolved
	must(t, e.As("ricardo").Patch(ctx, drill, patch))
	testenv.Eventually(t, 10*time.Second, func() error {
		if len(pd.ResolvedAlerts()) != 1 || len(pd.OpenAlerts()) != 0 {
			return fmt.Errorf("open %+v resolved %+v", pd.OpenAlerts(), pd.ResolvedAlerts())
		}
		if countPrefix(sl.Texts(), "[DRILL] @all: Incident Resolved") != 1 {
			return fmt.Errorf("no drill resolution in Slack: %q", sl.Texts())
		}
		return nil
	})
	for _, ev := range pd.Events() {
		if strings.Contains(ev.DedupKey, "/drill/") {
			t.Fatalf("a drill reached PagerDuty: %+v", ev)
		}
	}
	if n := len(pd.Requests()); n != 2 {
		t.Fatalf("%d requests to PagerDuty, want a trigger and a resolve", n)
	}
	// Resolved, the page needs no finalizer any more: deleting the incident sends nothing.
	testenv.Eventually(t, 10*time.Second, func() error {
		got := &v1alpha1.Incident{}
		must(t, e.Client.Get(ctx, client.ObjectKeyFromObject(inc), got))
		if len(got.Finalizers) != 0 {
			return fmt.Errorf("finalizers %v", got.Finalizers)
		}
		return nil
	})
	must(t, e.Client.Delete(ctx, inc))
	waitGone(t, e, inc)
	if n := len(pd.Requests()); n != 2 {
		t.Fatalf("%d requests to PagerDuty after deleting a resolved incident, want still 2", n)
	}
}

func TestIntegrationSlackRateLimitIsHonouredAndNothingIsLostOrDoubled(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ns, sl, _ := channels(t, e, time.Hour)
	sl.FailNext(1, 429, time.Second)
	sl.FailNext(1, 500, 0)
	inc := confirmedIncident(ns, "throttled")
	must(t, e.As("ricardo").Create(ctx, inc))
	want := []string{"@all: Incident declared (Confirmed)", "@all: IC -> ricardo", "@all: Comms -> keiko"}
	testenv.Eventually(t, 20*time.Second, func() error {
		for _, w := range want {
			if countPrefix(sl.Texts(), w) != 1 {
				return fmt.Errorf("Slack has %q", sl.Texts())
			}
		}
		return nil
	})
	if n := len(sl.Texts()); n != len(want) {
		t.Fatalf("%d messages, want %d: %q", n, len(want), sl.Texts())
	}
	reqs := sl.Requests()
	if len(reqs) < len(want)+2 {
		t.Fatalf("%d requests: the 429 and the 500 were not retried", len(reqs))
	}
	// After the 429 the next request waited for Retry-After.
	if gap := reqs[1].At.Sub(reqs[0].At); gap < time.Second {
		t.Fatalf("retried %s after a 429 with Retry-After: 1", gap)
	}
	if notes := eventNotes(t, e.Client, ns, inc.Name, "NotificationFailed"); len(notes) == 0 || strings.Contains(strings.Join(notes, " "), "xoxtesttoken") {
		t.Fatalf("NotificationFailed Events %q: want some, without the webhook URL", notes)
	}
}

func TestIntegrationAnnouncementsWaitForTheirChannelsTurnRatherThanFailing(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ns, sl, _ := channels(t, e, time.Hour)
	// Slack asks to wait longer than the rate limiter's MaxWait before the next message to
	// this webhook.
	sl.FailNext(1, 429, 2*ratelimit.DefaultMaxWait)
	must(t, e.As("ricardo").Create(ctx, confirmedIncident(ns, "first")))
	testenv.Eventually(t, 10*time.Second, func() error {
		if len(sl.Requests()) == 0 {
			return fmt.Errorf("no request to Slack yet")
		}
		return nil
	})
	// Another incident's announcements fall due while the webhook is held.
	second := confirmedIncident(ns, "second")
	must(t, e.As("ricardo").Create(ctx, second))
	want := []string{"@all: Incident declared (Confirmed)", "@all: IC -> ricardo", "@all: Comms -> keiko"}
	testenv.Eventually(t, 40*time.Second, func() error {
		for _, w := range want {
			if countPrefix(sl.Texts(), w) != 2 {
				return fmt.Errorf("Slack has %q", sl.Texts())
			}
		}
		return nil
	})
	// They waited for the webhook's turn: none was refused, stored as failed and retried.
	if notes := eventNotes(t, e.Client, ns, second.Name, "NotificationFailed"); len(notes) != 0 {
		t.Fatalf("NotificationFailed Events %q for announcements that only had to wait their turn", notes)
	}
	got := &v1alpha1.Incident{}
	must(t, e.Client.Get(ctx, client.ObjectKeyFromObject(second), got))
	for _, en := range got.Status.Timeline {
		if strings.HasPrefix(en.Message, "Could not deliver") {
			t.Fatalf("timeline entry %q for an announcement that only had to wait its turn", en.Message)
		}
	}
}

func TestIntegrationRestartWhileRemindersAreDueSendsOneNotABacklog(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ns, sl, _ := channels(t, e, 2*time.Second)
	inc := confirmedIncident(ns, "downtime")
	must(t, e.As("ricardo").Create(ctx, inc))
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := countPrefix(sl.Texts(), "@ricardo: Sitrep overdue"); n != 1 {
			return fmt.Errorf("%d reminders", n)
		}
		return nil
	})
	e.StopManager()
	time.Sleep(5 * time.Second) // two intervals pass with nobody watching
	must(t, e.RunManager())
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := countPrefix(sl.Texts(), "@ricardo: Sitrep overdue"); n < 2 {
			return fmt.Errorf("%d reminders", n)
		}
		return nil
	})
	texts := sl.Texts()
	reminders := countPrefix(texts, "@ricardo: Sitrep overdue")
	if seen := map[string]bool{}; true {
		for _, s := range texts {
			if seen[s] {
				t.Fatalf("posted twice: %q", s)
			}
			seen[s] = true
		}
	}
	// The restarted manager sends one reminder for the current interval, not one for each
	// interval missed while it was down.
	events := eventNotes(t, e.Client, ns, inc.Name, "SitrepOverdue")
	if len(events) != reminders {
		t.Fatalf("%d SitrepOverdue Events, %d in Slack", len(events), reminders)
	}
	if reminders > 3 {
		t.Fatalf("%d reminders after a 5s outage on a 2s cadence: a backlog was sent", reminders)
	}
}

func TestIntegrationCustomersRemindedOncePerMissedStatusUpdateCadence(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ns, _, _ := channels(t, e, time.Hour)
	pol := &v1alpha1.ResponsePolicy{}
	must(t, e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "default"}, pol))
	patch := client.MergeFrom(pol.DeepCopy())
	pol.Spec.StatusUpdateCadence = &metav1.Duration{Duration: 2 * time.Second}
	must(t, e.Client.Patch(ctx, pol, patch))
	inc := confirmedIncident(ns, "quiet")
	must(t, e.As("ricardo").Create(ctx, inc))

	// Customers heard once (as the StatusUpdate controller records it), then nothing more.
	got := &v1alpha1.Incident{}
	testenv.Eventually(t, 5*time.Second, func() error {
		if err := e.Client.Get(ctx, client.ObjectKeyFromObject(inc), got); err != nil {
			return err
		}
		if got.Status.ConfirmedAt == nil {
			return fmt.Errorf("not recorded yet")
		}
		return nil
	})
	publishedUpdate(t, e, got, "quiet-1", "identified")

	quiet := func() []string {
		var out []string
		for _, n := range eventNotes(t, e.Client, ns, inc.Name, v1alpha1.EventCustomersNotInformed) {
			if strings.Contains(n, "Customers last heard") {
				out = append(out, n)
			}
		}
		return out
	}
	testenv.Eventually(t, 15*time.Second, func() error {
		if n := len(quiet()); n < 2 {
			return fmt.Errorf("%d reminders, want 2 after two missed cadences", n)
		}
		return nil
	})
	notes := quiet()
	for i, n := range notes {
		if !strings.Contains(n, `("identified"): status updates are due every 2s while Confirmed; Comms: keiko`) {
			t.Errorf("reminder %d: %q", i, n)
		}
		if slices.Contains(notes[:i], n) {
			t.Errorf("reminder %d sent twice: %q", i, n)
		}
	}
	// A new update restarts the count from it: the next reminder counts from the new update.
	heard := publishedUpdate(t, e, got, "quiet-2", "identified")
	testenv.Eventually(t, 15*time.Second, func() error {
		cur := &v1alpha1.Incident{}
		must(t, e.Client.Get(ctx, client.ObjectKeyFromObject(inc), cur))
		rem := cur.Status.Reminders
		if rem == nil || rem.CustomersHeardAt == nil || rem.CustomersHeardAt.Unix() != heard.Unix() || rem.CustomersUpdatesMissed < 1 {
			return fmt.Errorf("reminders %+v, want one counted from the update at %s", rem, heard.UTC())
		}
		return nil
	})
	// The Event follows the status write that records the reminder.
	testenv.Eventually(t, 5*time.Second, func() error {
		if n := len(quiet()); n <= len(notes) {
			return fmt.Errorf("%d reminders after the second update's cadence passed, want more than %d", n, len(notes))
		}
		return nil
	})
}

// publishedUpdate creates a StatusUpdate of inc and stores it as the StatusUpdate controller
// stores a published one, bound to inc's uid, and returns when it was published.
func publishedUpdate(t *testing.T, e *testenv.Env, inc *v1alpha1.Incident, name string, status v1alpha1.UpdateStatus) metav1.Time {
	t.Helper()
	ctx := context.Background()
	su := &v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: inc.Namespace},
		Spec: v1alpha1.StatusUpdateSpec{IncidentRef: v1alpha1.LocalReference{Name: inc.Name}, Status: status,
			Message: "Creating databases fails. We are restoring it. Running databases are not affected."}}
	must(t, e.Client.Create(ctx, su))
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	testenv.Eventually(t, 5*time.Second, func() error {
		if err := e.Client.Get(ctx, client.ObjectKeyFromObject(su), su); err != nil {
			return err
		}
		su.Status.IncidentUID, su.Status.PublishedAt, su.Status.PublishedGeneration = inc.UID, &now, su.Generation
		meta.SetStatusCondition(&su.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionPublished, Status: metav1.ConditionTrue,
			Reason: v1alpha1.ReasonPublished, Message: "Published to the status page"})
		return e.Client.Status().Update(ctx, su)
	})
	return now
}

func TestIntegrationCustomersHeardCountsOnlyThisIncidentsUpdates(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ns, _, _ := channels(t, e, time.Hour)
	first := confirmedIncident(ns, "db-down")
	must(t, e.As("ricardo").Create(ctx, first))
	waitSummary := func(name string, want int32) *v1alpha1.Incident {
		t.Helper()
		got := &v1alpha1.Incident{}
		testenv.Eventually(t, 5*time.Second, func() error {
			must(t, e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, got))
			var n int32
			if s := got.Status.StatusUpdates; s != nil {
				n = s.Published
			}
			if n != want || got.Status.Recorded == nil || got.Status.Recorded.StatusUpdates != want {
				return fmt.Errorf("status.statusUpdates %+v, recorded %+v; want %d published", got.Status.StatusUpdates, got.Status.Recorded, want)
			}
			return nil
		})
		return got
	}
	heard := publishedUpdate(t, e, first, "db-down-1", "identified")
	got := waitSummary("db-down", 1)
	if s := got.Status.StatusUpdates; !s.LastPublishedAt.Equal(&heard) || s.LastStatus != "identified" {
		t.Fatalf("summary %+v, want the update published at %s", s, heard.UTC())
	}
	if !meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionCustomersInformed) {
		t.Fatalf("CustomersInformed is not True: %+v", got.Status.Conditions)
	}

	// The incident is deleted and declared again under the same name: the old update stays,
	// bound to the old uid, and customers have heard nothing of the new incident.
	must(t, e.Client.Delete(ctx, got))
	testenv.Eventually(t, 5*time.Second, func() error {
		if err := e.Client.Get(ctx, client.ObjectKeyFromObject(got), &v1alpha1.Incident{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("not deleted yet: %v", err)
		}
		return nil
	})
	second := confirmedIncident(ns, "db-down")
	must(t, e.As("ricardo").Create(ctx, second))
	got = waitSummary("db-down", 0)
	if c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionCustomersInformed); c == nil || c.Status != metav1.ConditionFalse {
		t.Fatalf("the new incident counts the old one's update: CustomersInformed %+v", c)
	}
	publishedUpdate(t, e, second, "db-down-2", "investigating")
	waitSummary("db-down", 1)
}

// declarePaged creates inc, which pages, and waits for its page to be open.
func declarePaged(t *testing.T, e *testenv.Env, pd *pagerduty.Server, inc *v1alpha1.Incident) {
	t.Helper()
	must(t, e.As("ricardo").Create(context.Background(), inc))
	testenv.Eventually(t, 10*time.Second, func() error {
		if len(pd.OpenAlerts()) != 1 {
			return fmt.Errorf("open alerts %+v", pd.OpenAlerts())
		}
		return nil
	})
}

// waitGone waits for a deleted incident to be gone.
func waitGone(t *testing.T, e *testenv.Env, inc *v1alpha1.Incident) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() error {
		if err := e.Client.Get(context.Background(), client.ObjectKeyFromObject(inc), &v1alpha1.Incident{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
}

// Deleting a namespace deletes the incident's ResponsePolicy and routing key Secret with it,
// and they go first: the incident's finalizer waits. The page is resolved all the same.
func TestIntegrationDeletingAPagedIncidentResolvesItsPageAfterItsPolicyAndKeyAreGone(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ns, _, pd := channels(t, e, time.Hour)
	inc := confirmedIncident(ns, "namespace-deleted")
	declarePaged(t, e, pd, inc)
	must(t, e.Client.Delete(ctx, &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}))
	must(t, e.Client.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pagerduty", Namespace: ns}}))
	got := &v1alpha1.Incident{}
	must(t, e.Client.Get(ctx, client.ObjectKeyFromObject(inc), got))
	must(t, e.As("ricardo").Delete(ctx, got))
	waitGone(t, e, inc)
	if len(pd.OpenAlerts()) != 0 || len(pd.ResolvedAlerts()) != 1 {
		t.Fatalf("open %+v resolved %+v", pd.OpenAlerts(), pd.ResolvedAlerts())
	}
	if notes := eventNotes(t, e.Client, ns, inc.Name, v1alpha1.EventNotificationFailed); len(notes) != 0 {
		t.Fatalf("Warnings %q", notes)
	}
}

func TestIntegrationDeletingAPagedIncidentResolvesItsPage(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ns, _, pd := channels(t, e, time.Hour)
	inc := confirmedIncident(ns, "mistake")
	declarePaged(t, e, pd, inc)
	got := &v1alpha1.Incident{}
	must(t, e.Client.Get(ctx, client.ObjectKeyFromObject(inc), got))
	if !slices.Contains(got.Finalizers, v1alpha1.FinalizerResolvePage) {
		t.Fatalf("a paged incident has finalizers %v", got.Finalizers)
	}
	// Declared by mistake, deleted while open: the page is resolved, then the incident goes.
	must(t, e.As("ricardo").Delete(ctx, got))
	waitGone(t, e, inc)
	if len(pd.OpenAlerts()) != 0 || len(pd.ResolvedAlerts()) != 1 {
		t.Fatalf("open %+v resolved %+v", pd.OpenAlerts(), pd.ResolvedAlerts())
	}

	// A page PagerDuty refuses to resolve (the routing key was revoked) does not hold the
	// deletion: the incident goes, with a Warning saying to resolve the page by hand.
	other := confirmedIncident(ns, "revoked")
	declarePaged(t, e, pd, other)
	pd.AllowRoutingKeys("R0UT1NGKEYOTHER00000000000000001")
	must(t, e.As("ricardo").Delete(ctx, other))
	waitGone(t, e, other)
	if notes := eventNotes(t, e.Client, ns, other.Name, v1alpha1.EventNotificationFailed); len(notes) != 1 ||
		!strings.Contains(notes[0], "The incident was deleted but its page could not be resolved") || strings.Contains(notes[0], routingKey) {
		t.Fatalf("Events %q", notes)
	}
	// Drills never page, so they carry no finalizer.
	drill := confirmedIncident(ns, "drill")
	drill.Spec.Drill = true
	must(t, e.As("ricardo").Create(ctx, drill))
	time.Sleep(time.Second)
	must(t, e.Client.Get(ctx, client.ObjectKeyFromObject(drill), got))
	if len(got.Finalizers) != 0 {
		t.Fatalf("a drill has finalizers %v", got.Finalizers)
	}
}
