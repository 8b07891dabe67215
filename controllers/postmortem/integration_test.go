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

package postmortem_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/controllers/postmortem"
	"firescope.dev/firescope/internal/credentials"
	"firescope.dev/firescope/internal/mock/slack"
	"firescope.dev/firescope/internal/mock/statuspage"
	"firescope.dev/firescope/internal/testenv"
)

// The tests share one control plane and one running manager, started on first use.
func TestMain(m *testing.M) { testenv.Main(m) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type fakes struct {
	ns    string
	slack *slack.Server
	page  *statuspage.Server
}

// namespace creates a namespace whose default ResponsePolicy announces to a fake Slack and
// publishes to a fake Statuspage; edit adjusts the policy.
func namespace(t *testing.T, e *testenv.Env, edit func(*v1alpha1.ResponsePolicySpec)) fakes {
	t.Helper()
	ctx := context.Background()
	f := fakes{ns: strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), slack: slack.New(), page: statuspage.New()}
	if len(f.ns) > 60 {
		f.ns = f.ns[:60]
	}
	t.Cleanup(f.slack.Close)
	t.Cleanup(f.page.Close)
	f.page.AddComponent("cmp0ec2", "EC2")
	must(t, e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.ns}}))
	for name, data := range map[string]string{"comms": f.slack.WebhookURL(), "statuspage": statuspage.APIKey} {
		provider := map[string]credentials.Provider{"comms": credentials.Slack, "statuspage": credentials.Statuspage}[name]
		must(t, e.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"firescope.dev/credential": "true"},
			Annotations: credentials.Annotations(provider, "127.0.0.1"), Name: name, Namespace: f.ns},
			StringData: map[string]string{"key": data}}))
	}
	must(t, e.Client.Create(ctx, &v1alpha1.StatusPage{ObjectMeta: metav1.ObjectMeta{Name: "public", Namespace: f.ns},
		Spec: v1alpha1.StatusPageSpec{Provider: v1alpha1.ProviderStatuspage, URL: f.page.URL, PageID: statuspage.PageID,
			CredentialsSecretRef: v1alpha1.SecretKeyReference{Name: "statuspage", Key: "key"},
			Components:           []v1alpha1.ComponentMapping{{Name: "EC2", ID: "cmp0ec2"}}}}))
	spec := v1alpha1.ResponsePolicySpec{
		StatusPageRef: &v1alpha1.LocalReference{Name: "public"},
		CommsChannel:  &v1alpha1.CommsChannel{Slack: &v1alpha1.SlackChannel{WebhookURLSecretRef: v1alpha1.SecretKeyReference{Name: "comms", Key: "key"}}},
	}
	if edit != nil {
		edit(&spec)
	}
	must(t, e.Client.Create(ctx, &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: f.ns}, Spec: spec}))
	return f
}

func declare(t *testing.T, e *testenv.Env, ns, name string, drill bool) {
	t.Helper()
	must(t, e.Client.Create(context.Background(), &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.IncidentSpec{Title: "EC2 API errors in us-east-1", State: v1alpha1.StateMajor, Drill: drill,
			Roles: v1alpha1.Roles{Commander: "ricardo", Communications: "keiko"}}}))
}

func setState(t *testing.T, e *testenv.Env, ns, name string, s v1alpha1.IncidentState) {
	t.Helper()
	patch := client.RawPatch("application/merge-patch+json", fmt.Appendf(nil, `{"spec":{"state":%q}}`, s))
	must(t, e.Client.Patch(context.Background(), &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}, patch))
}

func getPM(e *testenv.Env, ns, name string) (*v1alpha1.Postmortem, error) {
	pm := &v1alpha1.Postmortem{}
	return pm, e.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, pm)
}

func waitPM(t *testing.T, e *testenv.Env, ns, name string, ok func(*v1alpha1.Postmortem) error) *v1alpha1.Postmortem {
	t.Helper()
	var pm *v1alpha1.Postmortem
	testenv.Eventually(t, 20*time.Second, func() error {
		var err error
		if pm, err = getPM(e, ns, name); err != nil {
			return err
		}
		return ok(pm)
	})
	return pm
}

func patchPM(t *testing.T, e *testenv.Env, ns, name, patch string) error {
	t.Helper()
	return e.Client.Patch(context.Background(), &v1alpha1.Postmortem{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}},
		client.RawPatch("application/merge-patch+json", []byte(patch)))
}

// events lists "Reason: note" of the Events about the named object.
func events(t *testing.T, e *testenv.Env, ns, kind, name string) []string {
	t.Helper()
	list := &eventsv1.EventList{}
	must(t, e.Client.List(context.Background(), list, client.InNamespace(ns)))
	var out []string
	for _, ev := range list.Items {
		if ev.Regarding.Kind == kind && ev.Regarding.Name == name {
			out = append(out, ev.Reason+": "+ev.Note)
		}
	}
	return out
}

func count(items []string, prefix string) int {
	n := 0
	for _, s := range items {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

func TestIntegrationResolvingOpensOnePostmortemWithTheRecordAndReopeningKeepsIt(t *testing.T) {
	e := testenv.Shared(t)
	f := namespace(t, e, nil)
	declare(t, e, f.ns, "ec2-api-errors", false)
	// Customers hear about it, so the record lists the update.
	must(t, e.Client.Create(context.Background(), &v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: "u1", Namespace: f.ns},
		Spec: v1alpha1.StatusUpdateSpec{IncidentRef: v1alpha1.LocalReference{Name: "ec2-api-errors"}, Status: "investigating",
			Message: "Launching servers fails in us-east-1; we are investigating. Existing servers are not affected."}}))
	testenv.Eventually(t, 20*time.Second, func() error {
		inc := &v1alpha1.Incident{}
		must(t, e.Client.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: "ec2-api-errors"}, inc))
		if inc.Status.StatusUpdates == nil || inc.Status.StatusUpdates.Published != 1 {
			return fmt.Errorf("status updates %+v", inc.Status.StatusUpdates)
		}
		return nil
	})
	if _, err := getPM(e, f.ns, "ec2-api-errors"); !apierrors.IsNotFound(err) {
		t.Fatalf("an open incident has a post-mortem already: %v", err)
	}
	setState(t, e, f.ns, "ec2-api-errors", v1alpha1.StateResolved)
	pm := waitPM(t, e, f.ns, "ec2-api-errors", func(pm *v1alpha1.Postmortem) error {
		if pm.Status.Incident.ResolvedAt == nil || len(pm.Status.Incident.StatusUpdates) != 1 {
			return fmt.Errorf("record %+v", pm.Status.Incident)
		}
		return nil
	})
	// Recorded on the Incident, not owned by it: a post-mortem outlives a pruned incident.
	if owners := pm.GetOwnerReferences(); len(owners) != 0 {
		t.Errorf("owner references %+v", owners)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		inc := &v1alpha1.Incident{}
		must(t, e.Client.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: "ec2-api-errors"}, inc))
		if inc.Status.Postmortem == nil || inc.Status.Postmortem.Name != "ec2-api-errors" {
			return fmt.Errorf("incident status.postmortem %+v", inc.Status.Postmortem)
		}
		return nil
	})
	if pm.Spec.Owner != "" || pm.Status.ProposedOwner != "ricardo" || pm.Spec.DueAt == nil {
		t.Errorf("owner %q, proposed %q, due %v", pm.Spec.Owner, pm.Status.ProposedOwner, pm.Spec.DueAt)
	}
	if !strings.Contains(pm.Spec.Understanding, "Incident Resolved") || pm.Status.Incident.Durations.ToResolve == nil || pm.Status.Incident.HighestState != v1alpha1.StateMajor {
		t.Errorf("understanding %q, record %+v", pm.Spec.Understanding, pm.Status.Incident)
	}
	if c := meta.FindStatusCondition(pm.Status.Conditions, v1alpha1.ConditionOwnerAssigned); c == nil || c.Reason != v1alpha1.ReasonOwnerMissing {
		t.Errorf("OwnerAssigned %+v", c)
	}

	// Reopen and resolve again: still one post-mortem, its record grown by the reopen.
	setState(t, e, f.ns, "ec2-api-errors", v1alpha1.StateInvestigating)
	waitPM(t, e, f.ns, "ec2-api-errors", func(pm *v1alpha1.Postmortem) error {
		for _, x := range pm.Status.Incident.Timeline {
			if x.Type == v1alpha1.TimelineReopened {
				return nil
			}
		}
		return fmt.Errorf("no reopen in the record yet")
	})
	setState(t, e, f.ns, "ec2-api-errors", v1alpha1.StateResolved)
	time.Sleep(2 * time.Second) // give a wrong second post-mortem time to appear
	list := &v1alpha1.PostmortemList{}
	must(t, e.Client.List(context.Background(), list, client.InNamespace(f.ns)))
	if len(list.Items) != 1 {
		t.Errorf("%d post-mortems after a reopen, want 1", len(list.Items))
	}
	if n := count(events(t, e, f.ns, "Incident", "ec2-api-errors"), v1alpha1.EventPostmortemCreated); n != 1 {
		t.Errorf("%d PostmortemCreated Events on the incident, want 1", n)
	}

	// Somebody deletes it (a false alarm, say): it stays deleted.
	must(t, e.Client.Delete(context.Background(), &v1alpha1.Postmortem{ObjectMeta: metav1.ObjectMeta{Name: "ec2-api-errors", Namespace: f.ns}}))
	setState(t, e, f.ns, "ec2-api-errors", v1alpha1.StateMajor)
	setState(t, e, f.ns, "ec2-api-errors", v1alpha1.StateResolved)
	time.Sleep(2 * time.Second)
	if _, err := getPM(e, f.ns, "ec2-api-errors"); !apierrors.IsNotFound(err) {
		t.Errorf("a deleted post-mortem came back: %v", err)
	}
}

func TestIntegrationDrillsGetAPostmortemOnlyWhenThePolicyAsks(t *testing.T) {
	e := testenv.Shared(t)
	for _, asks := range []bool{false, true} {
		t.Run(fmt.Sprint(asks), func(t *testing.T) {
			f := namespace(t, e, func(s *v1alpha1.ResponsePolicySpec) { s.PostmortemForDrills = asks })
			declare(t, e, f.ns, "gameday", true)
			// And a real incident in the same namespace, which always gets one: the proof that
			// the controller has looked at this namespace.
			declare(t, e, f.ns, "real", false)
			setState(t, e, f.ns, "gameday", v1alpha1.StateResolved)
			setState(t, e, f.ns, "real", v1alpha1.StateResolved)
			waitPM(t, e, f.ns, "real", func(*v1alpha1.Postmortem) error { return nil })
			if !asks {
				time.Sleep(time.Second)
				if _, err := getPM(e, f.ns, "gameday"); !apierrors.IsNotFound(err) {
					t.Fatalf("a drill got a post-mortem the policy did not ask for: %v", err)
				}
				return
			}
			waitPM(t, e, f.ns, "gameday", func(pm *v1alpha1.Postmortem) error {
				if !pm.Status.Incident.Drill {
					return fmt.Errorf("the record does not say drill yet")
				}
				return nil
			})
		})
	}
}

func TestIntegrationRemindersForMissingOwnerOverdueAndUnownedRemediation(t *testing.T) {
	e := testenv.Shared(t)
	f := namespace(t, e, func(s *v1alpha1.ResponsePolicySpec) {
		s.PostmortemDue = &metav1.Duration{Duration: 4 * time.Second}
		s.Purpose, s.PostmortemReminderInterval = v1alpha1.PurposeDrill, &metav1.Duration{Duration: 2 * time.Second}
	})
	declare(t, e, f.ns, "db-failover", true)
	must(t, e.Client.Patch(context.Background(), &v1alpha1.ResponsePolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: f.ns}},
		client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"postmortemForDrills":true}}`))))
	setState(t, e, f.ns, "db-failover", v1alpha1.StateResolved)
	waitPM(t, e, f.ns, "db-failover", func(*v1alpha1.Postmortem) error { return nil })
	// The owner stays empty: reminders repeat every interval, to the IC on the comms channel.
	testenv.Eventually(t, 20*time.Second, func() error {
		if n := count(events(t, e, f.ns, "Postmortem", "db-failover"), v1alpha1.EventPostmortemOwnerMissing); n < 2 {
			return fmt.Errorf("%d owner reminders", n)
		}
		if n := count(events(t, e, f.ns, "Postmortem", "db-failover"), v1alpha1.EventPostmortemOverdue); n < 1 {
			return fmt.Errorf("%d overdue reminders", n)
		}
		return nil
	})
	// The channel hears of each reminder right after the status write that records it.
	testenv.Eventually(t, 10*time.Second, func() error {
		texts := strings.Join(f.slack.Texts(), "\n")
		if !strings.Contains(texts, "[DRILL] @ricardo: Post-mortem db-failover has no owner") || !strings.Contains(texts, "was due at") {
			return fmt.Errorf("comms channel got:\n%s", texts)
		}
		return nil
	})
	// Confirming the owner and adding an unowned item: the owner reminders stop, the item's start.
	must(t, patchPM(t, e, f.ns, "db-failover", `{"spec":{"owner":"keiko","remediation":[{"title":"Alert on replica lag"}]}}`))
	waitPM(t, e, f.ns, "db-failover", func(pm *v1alpha1.Postmortem) error {
		if c := meta.FindStatusCondition(pm.Status.Conditions, v1alpha1.ConditionRemediationOwned); c == nil || c.Reason != v1alpha1.ReasonUnowned {
			return fmt.Errorf("RemediationOwned %+v", c)
		}
		return nil
	})
	testenv.Eventually(t, 10*time.Second, func() error {
		if !strings.Contains(strings.Join(f.slack.Texts(), "\n"), "[DRILL] @keiko: Post-mortem db-failover has remediation items without an owner: Alert on replica lag") {
			return fmt.Errorf("no remediation reminder to the owner yet")
		}
		return nil
	})
	owner := count(events(t, e, f.ns, "Postmortem", "db-failover"), v1alpha1.EventPostmortemOwnerMissing)
	time.Sleep(3 * time.Second)
	if again := count(events(t, e, f.ns, "Postmortem", "db-failover"), v1alpha1.EventPostmortemOwnerMissing); again != owner {
		t.Errorf("owner reminders went on after the owner was set: %d then %d", owner, again)
	}
}

func TestIntegrationRefusesReviewWithoutAnOwnerAndPublicationWithoutTheSections(t *testing.T) {
	e := testenv.Shared(t)
	f := namespace(t, e, nil)
	declare(t, e, f.ns, "api-latency", false)
	setState(t, e, f.ns, "api-latency", v1alpha1.StateResolved)
	waitPM(t, e, f.ns, "api-latency", func(*v1alpha1.Postmortem) error { return nil })
	for patch, want := range map[string]string{
		`{"spec":{"state":"InReview"}}`:                                            "a post-mortem needs an owner before review: set spec.owner",
		`{"spec":{"owner":"ana","state":"Published"}}`:                             "a Draft goes to InReview before it is Published",
		`{"spec":{"remediation":[{"title":"x","tracker":"not a url"}]}}`:           "tracker must be an absolute http or https URL",
		`{"spec":{"remediation":[{"title":"x","tracker":"/OPS-123"}]}}`:            "tracker must be an absolute http or https URL",
		`{"spec":{"remediation":[{"title":"x","tracker":"javascript:alert(1)"}]}}`: "tracker must be an absolute http or https URL",
	} {
		if err := patchPM(t, e, f.ns, "api-latency", patch); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", patch, err, want)
		}
	}
	// An empty tracker is no tracker.
	must(t, patchPM(t, e, f.ns, "api-latency", `{"spec":{"remediation":[{"title":"x","tracker":""}]}}`))
	must(t, patchPM(t, e, f.ns, "api-latency", `{"spec":{"owner":"ana","state":"InReview"}}`))
	if err := patchPM(t, e, f.ns, "api-latency", `{"spec":{"state":"Published"}}`); err == nil || !strings.Contains(err.Error(), "fill in spec.apology and spec.understanding") {
		t.Errorf("published without an apology: %v", err)
	}
}

// publishedIncident declares an incident, publishes one status update and resolves it, then
// readies its post-mortem for review with publishToStatusPage.
func publishedIncident(t *testing.T, e *testenv.Env, f fakes, name string) {
	t.Helper()
	declare(t, e, f.ns, name, false)
	must(t, e.Client.Create(context.Background(), &v1alpha1.StatusUpdate{ObjectMeta: metav1.ObjectMeta{Name: name + "-1", Namespace: f.ns},
		Spec: v1alpha1.StatusUpdateSpec{IncidentRef: v1alpha1.LocalReference{Name: name}, Status: "investigating",
			Message: "Launching servers fails in us-east-1; we are investigating.", Components: []v1alpha1.UpdateComponent{{Name: "EC2", Status: "major_outage"}}}}))
	testenv.Eventually(t, 20*time.Second, func() error {
		if len(f.page.Incidents()) != 1 {
			return fmt.Errorf("no provider incident yet")
		}
		inc := &v1alpha1.Incident{}
		must(t, e.Client.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: name}, inc))
		if inc.Status.StatusUpdates == nil || inc.Status.StatusUpdates.ProviderRef == "" {
			return fmt.Errorf("incident does not know its provider incident yet")
		}
		return nil
	})
	setState(t, e, f.ns, name, v1alpha1.StateResolved)
	waitPM(t, e, f.ns, name, func(*v1alpha1.Postmortem) error { return nil })
	must(t, patchPM(t, e, f.ns, name, `{"spec":{"owner":"ricardo","state":"InReview","publishToStatusPage":true,`+
		`"apology":"We are sorry: for 90 minutes you could not launch servers.","understanding":"The EC2 API in us-east-1 returned errors.",`+
		`"remediation":[{"title":"Launch in a second region when one fails","owner":"greg"}]}}`))
}

func postmortemOnPage(f fakes) *statuspage.Postmortem {
	incs := f.page.Incidents()
	if len(incs) != 1 {
		return nil
	}
	return incs[0].Postmortem
}

func TestIntegrationPublishesThePostmortemDraftThenOnce(t *testing.T) {
	e := testenv.Shared(t)
	f := namespace(t, e, nil)
	publishedIncident(t, e, f, "ec2-api-errors")
	waitPM(t, e, f.ns, "ec2-api-errors", func(pm *v1alpha1.Postmortem) error {
		if c := meta.FindStatusCondition(pm.Status.Conditions, v1alpha1.ConditionPublished); c == nil || c.Reason != v1alpha1.ReasonDrafted {
			return fmt.Errorf("Published %+v", c)
		}
		return nil
	})
	p := postmortemOnPage(f)
	if p == nil || !strings.Contains(p.BodyDraft, "We are sorry") || !strings.Contains(p.BodyDraft, "- Launch in a second region when one fails") || p.Publishes != 0 {
		t.Fatalf("draft on the page: %+v", p)
	}
	if strings.Contains(p.BodyDraft, "greg") {
		t.Errorf("the public text names the item's owner: %q", p.BodyDraft)
	}
	must(t, patchPM(t, e, f.ns, "ec2-api-errors", `{"spec":{"state":"Published"}}`))
	pm := waitPM(t, e, f.ns, "ec2-api-errors", func(pm *v1alpha1.Postmortem) error {
		if c := meta.FindStatusCondition(pm.Status.Conditions, v1alpha1.ConditionPublished); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("Published %+v", c)
		}
		return nil
	})
	if p := postmortemOnPage(f); p == nil || p.Publishes != 1 || p.PublishedAt.IsZero() || !strings.Contains(p.Body, "We are sorry") {
		t.Errorf("on the page: %+v", p)
	}
	if pm.Status.Publication.SendingSince != nil || pm.Status.Publication.PublishedAt == nil {
		t.Errorf("publication %+v", pm.Status.Publication)
	}
	if n := count(events(t, e, f.ns, "Postmortem", "ec2-api-errors"), v1alpha1.EventPostmortemPublished); n != 1 {
		t.Errorf("%d PostmortemPublished Events", n)
	}
	if inv := f.page.Invalid(); len(inv) > 0 {
		t.Errorf("requests the Statuspage API document does not allow: %+v", inv)
	}
}

func TestIntegrationAnEditAfterPublicationIsPublishedAsAnEdit(t *testing.T) {
	e := testenv.Shared(t)
	f := namespace(t, e, nil)
	publishedIncident(t, e, f, "ec2-api-errors")
	must(t, patchPM(t, e, f.ns, "ec2-api-errors", `{"spec":{"state":"Published","notifySubscribers":true}}`))
	waitPM(t, e, f.ns, "ec2-api-errors", func(pm *v1alpha1.Postmortem) error {
		if c := meta.FindStatusCondition(pm.Status.Conditions, v1alpha1.ConditionPublished); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("Published %+v", c)
		}
		return nil
	})
	if p := postmortemOnPage(f); p == nil || p.Publishes != 1 || !p.NotifySubscribers {
		t.Fatalf("first publication on the page: %+v", p)
	}
	// The apology is reworded after publication: the page shows the new text, and subscribers,
	// told once, are not told again.
	must(t, patchPM(t, e, f.ns, "ec2-api-errors", `{"spec":{"apology":"We are sorry: for 90 minutes, until 14:30 UTC, you could not launch servers."}}`))
	testenv.Eventually(t, 20*time.Second, func() error {
		if p := postmortemOnPage(f); p == nil || !strings.Contains(p.Body, "until 14:30 UTC") {
			return fmt.Errorf("the page keeps the old text: %+v", p)
		}
		return nil
	})
	pm := waitPM(t, e, f.ns, "ec2-api-errors", func(pm *v1alpha1.Postmortem) error {
		if pm.Status.Publication.PublishedGeneration != pm.Generation {
			return fmt.Errorf("publication %+v", pm.Status.Publication)
		}
		return nil
	})
	if p := postmortemOnPage(f); p.Publishes != 2 || p.NotifySubscribers {
		t.Fatalf("on the page after the edit: %+v", p)
	}
	if c := meta.FindStatusCondition(pm.Status.Conditions, v1alpha1.ConditionPublished); c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "latest edit too") {
		t.Errorf("Published %+v", c)
	}
	if n := count(events(t, e, f.ns, "Postmortem", "ec2-api-errors"), v1alpha1.EventPostmortemPublished); n != 2 {
		t.Errorf("%d PostmortemPublished Events, want the publication and the edit", n)
	}
}

func TestIntegrationARefusedDraftIsSentAgainOnARetry(t *testing.T) {
	e := testenv.Shared(t)
	f := namespace(t, e, nil)
	publishedIncident(t, e, f, "ec2-api-errors")
	waitPM(t, e, f.ns, "ec2-api-errors", func(pm *v1alpha1.Postmortem) error {
		if c := meta.FindStatusCondition(pm.Status.Conditions, v1alpha1.ConditionPublished); c == nil || c.Reason != v1alpha1.ReasonDrafted {
			return fmt.Errorf("Published %+v", c)
		}
		return nil
	})
	// The page refuses the next draft; it is not sent again on its own.
	f.page.FailNext(1, http.StatusUnprocessableEntity, 0)
	must(t, patchPM(t, e, f.ns, "ec2-api-errors", `{"spec":{"apology":"We are sorry: you could not launch servers for 90 minutes."}}`))
	waitPM(t, e, f.ns, "ec2-api-errors", func(pm *v1alpha1.Postmortem) error {
		if c := meta.FindStatusCondition(pm.Status.Conditions, v1alpha1.ConditionPublished); c == nil || c.Reason != v1alpha1.ReasonRejected || !strings.Contains(c.Message, "firescope.dev/retry") {
			return fmt.Errorf("Published %+v", c)
		}
		return nil
	})
	// Once the cause is fixed, a person asks for a retry with the annotation.
	must(t, patchPM(t, e, f.ns, "ec2-api-errors", `{"metadata":{"annotations":{"firescope.dev/retry":"1"}}}`))
	waitPM(t, e, f.ns, "ec2-api-errors", func(pm *v1alpha1.Postmortem) error {
		if c := meta.FindStatusCondition(pm.Status.Conditions, v1alpha1.ConditionPublished); c == nil || c.Reason != v1alpha1.ReasonDrafted {
			return fmt.Errorf("Published %+v", c)
		}
		return nil
	})
	if p := postmortemOnPage(f); p == nil || !strings.Contains(p.BodyDraft, "for 90 minutes.") {
		t.Fatalf("draft on the page: %+v", p)
	}
}

func TestIntegrationAdoptsAPublicationWhoseOutcomeWasLost(t *testing.T) {
	e := testenv.Shared(t)
	f := namespace(t, e, nil)
	publishedIncident(t, e, f, "ec2-api-errors")
	waitPM(t, e, f.ns, "ec2-api-errors", func(pm *v1alpha1.Postmortem) error {
		if pm.Status.Publication.DraftedGeneration != pm.Generation {
			return fmt.Errorf("not drafted yet")
		}
		return nil
	})
	// A manager records its intent, its publish call lands, and it dies before recording the
	// result: the status says sendingSince (a minute ago, so the attempt has settled), the page
	// says published.
	must(t, e.Client.Status().Patch(context.Background(), &v1alpha1.Postmortem{ObjectMeta: metav1.ObjectMeta{Name: "ec2-api-errors", Namespace: f.ns}},
		client.RawPatch("application/merge-patch+json", fmt.Appendf(nil, `{"status":{"publication":{"sendingSince":%q}}}`, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)))))
	ref := f.page.Incidents()[0].ID
	req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/v1/pages/%s/incidents/%s/postmortem/publish", f.page.URL, statuspage.PageID, ref),
		bytes.NewBufferString(`{"postmortem":{"notify_subscribers":false,"notify_twitter":false}}`))
	req.Header.Set("Authorization", "OAuth "+statuspage.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("publishing on the fake: %s", resp.Status)
	}
	must(t, patchPM(t, e, f.ns, "ec2-api-errors", `{"spec":{"state":"Published"}}`))
	waitPM(t, e, f.ns, "ec2-api-errors", func(pm *v1alpha1.Postmortem) error {
		if c := meta.FindStatusCondition(pm.Status.Conditions, v1alpha1.ConditionPublished); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("Published %+v", c)
		}
		return nil
	})
	if p := postmortemOnPage(f); p == nil || p.Publishes != 1 {
		t.Errorf("published %d times, want once: %+v", p.Publishes, p)
	}
}

func TestIntegrationNoPublicIncidentMeansNothingToAttachTo(t *testing.T) {
	e := testenv.Shared(t)
	f := namespace(t, e, nil)
	declare(t, e, f.ns, "quiet", false)
	setState(t, e, f.ns, "quiet", v1alpha1.StateResolved)
	waitPM(t, e, f.ns, "quiet", func(*v1alpha1.Postmortem) error { return nil })
	must(t, patchPM(t, e, f.ns, "quiet", `{"spec":{"owner":"ana","state":"InReview","publishToStatusPage":true}}`))
	waitPM(t, e, f.ns, "quiet", func(pm *v1alpha1.Postmortem) error {
		if c := meta.FindStatusCondition(pm.Status.Conditions, v1alpha1.ConditionPublished); c == nil || c.Reason != v1alpha1.ReasonNoPublicIncident {
			return fmt.Errorf("Published %+v", c)
		}
		return nil
	})
	if n := len(f.page.Requests()); n != 0 {
		t.Errorf("%d requests reached the status page", n)
	}
}

func TestIntegrationALaterIncidentOfTheSameNameGetsItsOwnPostmortem(t *testing.T) {
	e := testenv.Shared(t)
	ctx := context.Background()
	f := namespace(t, e, nil)
	declare(t, e, f.ns, "db-down", false)
	setState(t, e, f.ns, "db-down", v1alpha1.StateResolved)
	first := waitPM(t, e, f.ns, "db-down", func(pm *v1alpha1.Postmortem) error {
		if pm.Status.Incident.UID == "" {
			return fmt.Errorf("no incident recorded yet")
		}
		return nil
	})
	// A GitOps tool prunes the resolved incident; weeks later an alert declares one of the
	// same name, which resolves too.
	must(t, e.Client.Delete(ctx, &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "db-down", Namespace: f.ns}}))
	testenv.Eventually(t, 10*time.Second, func() error {
		if err := e.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "db-down"}, &v1alpha1.Incident{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
	later := &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "db-down", Namespace: f.ns},
		Spec: v1alpha1.IncidentSpec{Title: "Primary database unreachable", State: v1alpha1.StateConfirmed,
			Roles: v1alpha1.Roles{Commander: "greg", Communications: "keiko"}}}
	must(t, e.Client.Create(ctx, later))
	setState(t, e, f.ns, "db-down", v1alpha1.StateResolved)
	name := "db-down-" + string(later.UID)[:8]
	second := waitPM(t, e, f.ns, name, func(pm *v1alpha1.Postmortem) error {
		if pm.Status.Incident.UID != later.UID {
			return fmt.Errorf("record %+v", pm.Status.Incident)
		}
		return nil
	})
	if second.Status.ProposedOwner != "greg" || second.Status.Incident.Title != "Primary database unreachable" {
		t.Errorf("the later post-mortem records %q proposed %q", second.Status.Incident.Title, second.Status.ProposedOwner)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		inc := &v1alpha1.Incident{}
		must(t, e.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "db-down"}, inc))
		if inc.Status.Postmortem == nil || inc.Status.Postmortem.Name != name {
			return fmt.Errorf("status.postmortem %+v", inc.Status.Postmortem)
		}
		return nil
	})
	// The earlier post-mortem still reviews the earlier incident.
	time.Sleep(time.Second)
	kept, err := getPM(e, f.ns, "db-down")
	must(t, err)
	if kept.Status.Incident.UID != first.Status.Incident.UID || kept.Status.Incident.Title != first.Status.Incident.Title ||
		kept.Status.ProposedOwner != "ricardo" || kept.Status.Incident.ResolvedAt == nil {
		t.Errorf("the earlier post-mortem took the later incident's record: %+v, proposed %q", kept.Status.Incident, kept.Status.ProposedOwner)
	}
}

func TestIntegrationAPostmortemOutlivesItsIncidentAndStillReminds(t *testing.T) {
	e := testenv.Shared(t)
	ctx := context.Background()
	f := namespace(t, e, func(s *v1alpha1.ResponsePolicySpec) {
		s.Purpose, s.PostmortemReminderInterval = v1alpha1.PurposeDrill, &metav1.Duration{Duration: 2 * time.Second}
	})
	declare(t, e, f.ns, "pruned", false)
	setState(t, e, f.ns, "pruned", v1alpha1.StateResolved)
	waitPM(t, e, f.ns, "pruned", func(pm *v1alpha1.Postmortem) error {
		if pm.Status.Incident.UID == "" {
			return fmt.Errorf("no incident recorded yet")
		}
		return nil
	})
	must(t, e.Client.Delete(ctx, &v1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Name: "pruned", Namespace: f.ns}}))
	before := len(f.slack.Texts())
	// Reminders go on, on the policy's interval and channel, to the IC it recorded.
	testenv.Eventually(t, 15*time.Second, func() error {
		texts := f.slack.Texts()[before:]
		if n := count(texts, "@ricardo: Post-mortem pruned has no owner"); n < 2 {
			return fmt.Errorf("%d owner reminders on the channel since the incident was deleted: %q", n, texts)
		}
		return nil
	})
}

func TestIntegrationAPostmortemWrittenByHandIsLinkedAndNoneIsOpened(t *testing.T) {
	e := testenv.Shared(t)
	ctx := context.Background()
	f := namespace(t, e, nil)
	declare(t, e, f.ns, "x", false)
	must(t, e.Client.Create(ctx, &v1alpha1.Postmortem{ObjectMeta: metav1.ObjectMeta{Name: "review-x", Namespace: f.ns},
		Spec: v1alpha1.PostmortemSpec{IncidentRef: v1alpha1.LocalReference{Name: "x"}, State: v1alpha1.PostmortemDraft}}))
	testenv.Eventually(t, 10*time.Second, func() error {
		inc := &v1alpha1.Incident{}
		must(t, e.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "x"}, inc))
		if inc.Status.Postmortem == nil || inc.Status.Postmortem.Name != "review-x" {
			return fmt.Errorf("status.postmortem %+v", inc.Status.Postmortem)
		}
		return nil
	})
	setState(t, e, f.ns, "x", v1alpha1.StateResolved)
	must(t, e.Client.Delete(ctx, &v1alpha1.Postmortem{ObjectMeta: metav1.ObjectMeta{Name: "review-x", Namespace: f.ns}}))
	setState(t, e, f.ns, "x", v1alpha1.StateInvestigating)
	setState(t, e, f.ns, "x", v1alpha1.StateResolved)
	time.Sleep(2 * time.Second)
	list := &v1alpha1.PostmortemList{}
	must(t, e.Client.List(ctx, list, client.InNamespace(f.ns)))
	if len(list.Items) != 0 {
		t.Errorf("%d post-mortems after the one written by hand was deleted, want none", len(list.Items))
	}
}

func TestIntegrationTheLinkIsAppliedUnderItsOwnFieldOwnerAndSurvivesTheIncidentsWrites(t *testing.T) {
	e := testenv.Shared(t)
	ctx := context.Background()
	f := namespace(t, e, nil)
	declare(t, e, f.ns, "y", false)
	setState(t, e, f.ns, "y", v1alpha1.StateResolved)
	inc := &v1alpha1.Incident{}
	testenv.Eventually(t, 20*time.Second, func() error {
		must(t, e.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "y"}, inc))
		if inc.Status.Postmortem == nil {
			return fmt.Errorf("no status.postmortem yet")
		}
		return nil
	})
	owners := func(inc *v1alpha1.Incident) []string {
		var out []string
		for _, m := range inc.ManagedFields {
			if m.Subresource == "status" && m.FieldsV1 != nil && bytes.Contains(m.FieldsV1.GetRawBytes(), []byte(`"f:postmortem"`)) {
				out = append(out, fmt.Sprintf("%s/%s", m.Manager, m.Operation))
			}
		}
		return out
	}
	want := postmortem.FieldOwner + "/" + string(metav1.ManagedFieldsOperationApply)
	if got := owners(inc); len(got) != 1 || got[0] != want {
		t.Fatalf("status.postmortem is managed by %q, want only %q", got, want)
	}
	// The incident controller writes the status again (a reopen, then a resolution): the link
	// stays, and stays the post-mortem controller's.
	setState(t, e, f.ns, "y", v1alpha1.StateInvestigating)
	testenv.Eventually(t, 10*time.Second, func() error {
		must(t, e.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "y"}, inc))
		if inc.Status.Recorded == nil || inc.Status.Recorded.State != v1alpha1.StateInvestigating {
			return fmt.Errorf("the reopen is not recorded yet")
		}
		return nil
	})
	if inc.Status.Postmortem == nil || inc.Status.Postmortem.Name != "y" {
		t.Fatalf("status.postmortem after the incident controller's write: %+v", inc.Status.Postmortem)
	}
	if got := owners(inc); len(got) != 1 || got[0] != want {
		t.Fatalf("after the incident controller's write status.postmortem is managed by %q, want only %q", got, want)
	}
}

func TestIntegrationAReminderTheChannelRefusedArrivesOnceItRecovers(t *testing.T) {
	e := testenv.Shared(t)
	f := namespace(t, e, nil)
	declare(t, e, f.ns, "s3-latency", false)
	testenv.Eventually(t, 20*time.Second, func() error {
		if len(f.slack.Texts()) == 0 {
			return fmt.Errorf("the declaration is not announced yet")
		}
		return nil
	})
	// The channel fails the next requests, each with Retry-After: the resolution's
	// announcement and the post-mortem's owner reminder both meet failures.
	f.slack.FailNext(6, http.StatusServiceUnavailable, time.Second)
	setState(t, e, f.ns, "s3-latency", v1alpha1.StateResolved)
	const reminder = "@ricardo: Post-mortem s3-latency has no owner"
	testenv.Eventually(t, 60*time.Second, func() error {
		pm, err := getPM(e, f.ns, "s3-latency")
		if err != nil {
			return err
		}
		if n := count(f.slack.Texts(), reminder); n != 1 || len(pm.Status.Outbox) > 0 {
			return fmt.Errorf("%d owner reminders on the channel; outbox %+v", n, pm.Status.Outbox)
		}
		return nil
	})
	if n := count(events(t, e, f.ns, "Postmortem", "s3-latency"), v1alpha1.EventNotificationFailed); n != 1 {
		t.Errorf("%d NotificationFailed Events on the post-mortem, want 1 (retrying)", n)
	}
	failed := 0
	for _, r := range f.slack.Requests() {
		if r.Status == http.StatusServiceUnavailable {
			failed++
		}
	}
	if failed != 6 {
		t.Fatalf("%d requests answered 503, want 6", failed)
	}
	// Nothing is sent again afterwards: the reminder is delivered, once.
	time.Sleep(3 * time.Second)
	if n := count(f.slack.Texts(), reminder); n != 1 {
		t.Errorf("%d owner reminders on the channel, want 1", n)
	}
}
