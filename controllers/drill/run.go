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

package drill

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"firescope.dev/firescope/api/v1alpha1"
	"firescope.dev/firescope/internal/eventrecord"
	"firescope.dev/firescope/internal/notify"
)

// runState is what one reconcile learns and decides about a Drill's runs.
type runState struct {
	drill    *v1alpha1.Drill
	scenario *v1alpha1.DrillScenarioSpec
	policy   *v1alpha1.ResponsePolicy
	now      time.Time

	// incident is the active run's Incident, once read or created.
	incident *v1alpha1.Incident
	// updates are the StatusUpdates of the active run's Incident, read when it ends.
	updates []v1alpha1.StatusUpdate
	// started is true when this reconcile started the active run.
	started bool
	// played are the injects this reconcile recorded, to announce once stored.
	played []v1alpha1.PlayedInject
	// ended are the runs this reconcile ended and graded.
	ended []v1alpha1.DrillRunResult
	// decided are the criteria of earlier runs this reconcile decided after the run.
	decided []v1alpha1.Criterion
	events  []event
	wait    time.Duration
	err     error
}

type event struct {
	obj  client.Object
	fact eventrecord.Fact
}

func (s *runState) event(obj client.Object, key, typ, reason, note string) {
	s.events = append(s.events, event{obj: obj, fact: eventrecord.Fact{Key: key, Type: typ, Reason: reason, Note: note}})
}

// invalidScenario is a scenario that cannot run until someone fixes it, as opposed to an
// API error, which is retried.
type invalidScenario struct{ error }

// scenario resolves the Drill's scenario, inline or from its ConfigMap, and checks what the
// API server cannot: a ConfigMap's content, and that every inject plays within the time limit.
// A scenario that cannot run is an invalidScenario error; a failed read is returned as it is.
func (r *Reconciler) scenario(ctx context.Context, d *v1alpha1.Drill) (*v1alpha1.DrillScenarioSpec, error) {
	sc, err := r.readScenario(ctx, d)
	if err != nil {
		return nil, err
	}
	for i, in := range sc.Injects {
		if in.At.Duration >= d.Spec.TimeLimit.Duration {
			return nil, invalidScenario{fmt.Errorf("inject %d (at %s) plays after timeLimit %s: raise timeLimit or move the inject earlier", i, in.At.Duration, d.Spec.TimeLimit.Duration)}
		}
	}
	return sc, nil
}

func (r *Reconciler) readScenario(ctx context.Context, d *v1alpha1.Drill) (*v1alpha1.DrillScenarioSpec, error) {
	sc := d.Spec.Scenario.Inline
	if ref := d.Spec.Scenario.ConfigMapRef; ref != nil {
		cm := &corev1.ConfigMap{}
		if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: d.Namespace, Name: ref.Name}, cm); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, invalidScenario{fmt.Errorf("scenario ConfigMap %q not found: create it with the scenario under the key %s", ref.Name, v1alpha1.ScenarioConfigMapKey)}
			}
			return nil, err
		}
		raw, ok := cm.Data[v1alpha1.ScenarioConfigMapKey]
		if !ok {
			return nil, invalidScenario{fmt.Errorf("scenario ConfigMap %q has no key %s: put the scenario (title, state, injects) there", ref.Name, v1alpha1.ScenarioConfigMapKey)}
		}
		sc = &v1alpha1.DrillScenarioSpec{}
		if err := yaml.UnmarshalStrict([]byte(raw), sc); err != nil {
			return nil, invalidScenario{fmt.Errorf("scenario ConfigMap %q, key %s: %w", ref.Name, v1alpha1.ScenarioConfigMapKey, err)}
		}
		if err := checkScenario(sc); err != nil {
			return nil, invalidScenario{fmt.Errorf("scenario ConfigMap %q: %w", ref.Name, err)}
		}
	}
	return sc, nil
}

// decimal is what the CRD allows as a signal value.
var decimal = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// checkScenario checks a ConfigMap's scenario with the rules the CRD applies to inline ones.
func checkScenario(sc *v1alpha1.DrillScenarioSpec) error {
	switch {
	case sc.Title == "":
		return fmt.Errorf("title is required")
	case sc.State == v1alpha1.StateResolved:
		return fmt.Errorf("a drill cannot start Resolved: start it Investigating, Confirmed or Major")
	case len(sc.Injects) > v1alpha1.MaxInjects:
		return fmt.Errorf("%d injects; at most %d", len(sc.Injects), v1alpha1.MaxInjects)
	}
	for i, in := range sc.Injects {
		switch {
		case in.At.Duration < 0:
			return fmt.Errorf("inject %d: at must be an offset of 0s or more", i)
		case in.Type != v1alpha1.InjectNote && in.Type != v1alpha1.InjectPressure && in.Type != v1alpha1.InjectImpact && in.Type != v1alpha1.InjectHealthSignal:
			return fmt.Errorf("inject %d: type %q; use Note, Pressure, Impact or HealthSignal", i, in.Type)
		case in.Message == "":
			return fmt.Errorf("inject %d: message is required", i)
		case (in.Type == v1alpha1.InjectImpact) != (in.Impact != nil):
			return fmt.Errorf("inject %d: an Impact inject needs impact, and only an Impact inject has one", i)
		case (in.Type == v1alpha1.InjectHealthSignal) != (in.Signal != nil):
			return fmt.Errorf("inject %d: a HealthSignal inject needs signal (name and value), and only a HealthSignal inject has one", i)
		case in.Signal != nil && !decimal.MatchString(in.Signal.Value):
			return fmt.Errorf("inject %d: signal value %q is not a decimal number, such as 97 or 99.5", i, in.Signal.Value)
		}
	}
	return nil
}

func schedule(d *v1alpha1.Drill) (cron.Schedule, error) {
	if d.Spec.Schedule == "" {
		return nil, nil
	}
	return parseSchedule(d.Spec.Schedule)
}

// setReadyCondition says whether the Drill can run, and if not, what to fix.
func setReadyCondition(d *v1alpha1.Drill, scErr, schedErr error) {
	c := metav1.Condition{Type: v1alpha1.ConditionDrillReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonDrillValid,
		Message: "the scenario resolves and the schedule parses", ObservedGeneration: d.Generation}
	switch {
	case schedErr != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, v1alpha1.ReasonInvalidSchedule, schedErr.Error()
	case scErr != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, v1alpha1.ReasonScenarioInvalid, scErr.Error()
	}
	meta.SetStatusCondition(&d.Status.Conditions, c)
}

// observeActive reads the active run's Incident and ends the run when the Incident is gone, or
// resolved and recorded by the incident controller (so that the grade sees the resolve).
func (r *Reconciler) observeActive(ctx context.Context, s *runState) error {
	act := s.drill.Status.Active
	if act == nil {
		return nil
	}
	inc := &v1alpha1.Incident{}
	err := r.Get(ctx, client.ObjectKey{Namespace: s.drill.Namespace, Name: act.Incident}, inc)
	switch {
	case apierrors.IsNotFound(err):
		s.finish(nil, v1alpha1.DrillEndIncidentDeleted, s.now)
		return nil
	case err != nil:
		return err
	}
	s.incident = inc
	if inc.Spec.State == v1alpha1.StateResolved && inc.Status.ObservedGeneration >= inc.Generation {
		end := s.now
		if inc.Status.ResolvedAt != nil {
			end = inc.Status.ResolvedAt.Time
		}
		if s.updates, err = r.statusUpdates(ctx, inc); err != nil {
			return err
		}
		s.finish(inc, v1alpha1.DrillEndResolved, end)
	}
	return nil
}

// statusUpdates lists the StatusUpdates written for inc.
func (r *Reconciler) statusUpdates(ctx context.Context, inc *v1alpha1.Incident) ([]v1alpha1.StatusUpdate, error) {
	list := &v1alpha1.StatusUpdateList{}
	if err := r.List(ctx, list, client.InNamespace(inc.Namespace)); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(list.Items, func(u v1alpha1.StatusUpdate) bool { return u.Spec.IncidentRef.Name != inc.Name }), nil
}

// startDue handles a start request and the schedule, starting at most one run, and returns how
// long until the next scheduled time.
func (r *Reconciler) startDue(ctx context.Context, s *runState, sched cron.Schedule) time.Duration {
	d := s.drill
	st := &d.Status
	var name string
	if tok := d.Annotations[v1alpha1.AnnotationStartDrill]; tok != "" && tok != st.LastStartRequest {
		st.LastStartRequest = tok
		switch {
		case st.Active != nil:
			s.event(d, "skip/request/"+tok, corev1.EventTypeWarning, v1alpha1.EventDrillSkipped,
				fmt.Sprintf("Start request %q refused: run %s is under way; ask again when it ends", tok, st.Active.Incident))
		case s.scenario == nil:
			s.event(d, "skip/request/"+tok, corev1.EventTypeWarning, v1alpha1.EventDrillSkipped,
				fmt.Sprintf("Start request %q refused: the scenario is not usable (see the Ready condition)", tok))
		default:
			sum := sha256.Sum256([]byte(tok))
			name = d.Name + "-" + hex.EncodeToString(sum[:5])
		}
	}
	st.NextRunAt = nil
	var wait time.Duration
	if sched != nil {
		last := d.CreationTimestamp.Time
		if st.LastScheduleTime != nil {
			last = st.LastScheduleTime.Time
		}
		dec := decide(sched, last, s.now, time.Duration(ptrValue(d.Spec.StartingDeadlineSeconds))*time.Second, d.Spec.Suspend, st.Active != nil || name != "")
		if !dec.handled.IsZero() {
			st.LastScheduleTime = &metav1.Time{Time: dec.handled}
			key := fmt.Sprintf("skip/schedule/%d", dec.handled.Unix())
			switch {
			case dec.start && s.scenario != nil:
				name = fmt.Sprintf("%s-%d", d.Name, dec.handled.Unix())
			case dec.start:
				s.event(d, key, corev1.EventTypeWarning, v1alpha1.EventDrillSkipped, "Scheduled run skipped: the scenario is not usable (see the Ready condition)")
			case dec.skipped == skipTooLate:
				s.event(d, key, corev1.EventTypeWarning, v1alpha1.EventDrillSkipped, fmt.Sprintf("Scheduled run of %s skipped: more than startingDeadlineSeconds late (%d missed)",
					dec.handled.UTC().Format(time.RFC3339), dec.missed))
			case dec.skipped == skipUnderWay:
				s.event(d, key, corev1.EventTypeNormal, v1alpha1.EventDrillSkipped, fmt.Sprintf("Scheduled run of %s skipped: a run is under way, and runs never overlap",
					dec.handled.UTC().Format(time.RFC3339)))
			}
		}
		if !dec.next.IsZero() {
			st.NextRunAt = &metav1.Time{Time: dec.next}
			wait = dec.next.Sub(s.now)
		}
	}
	if name != "" {
		s.err = r.start(ctx, s, name)
	}
	return wait
}

func ptrValue(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// responders is the field manager of the drill Incident's spec: the one `kubectl incident
// declare` uses. The Incident is declared as a responder would declare it, so that the team
// runs it with the plugin, whose applies never take a field over from another manager.
var responders = client.FieldOwner("kubectl-incident")

// start declares the run's drill Incident, named after the scheduled time or the request so
// that a retry after a failed status write finds and adopts it rather than declare another.
func (r *Reconciler) start(ctx context.Context, s *runState, name string) error {
	d, sc := s.drill, s.scenario
	state := sc.State
	if state == "" {
		state = v1alpha1.StateInvestigating
	}
	inc := &v1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: d.Namespace, Labels: map[string]string{v1alpha1.LabelDrill: d.Name}},
		Spec: v1alpha1.IncidentSpec{Title: sc.Title, State: state, Drill: true, Impact: sc.Impact.DeepCopy(),
			Roles: v1alpha1.Roles{Commander: d.Spec.Commander}, PolicyRef: d.Spec.PolicyRef.DeepCopy()},
	}
	if err := controllerutil.SetControllerReference(d, inc, r.Scheme()); err != nil {
		return err
	}
	err := r.Create(ctx, inc, responders)
	if apierrors.IsAlreadyExists(err) {
		if err = r.Get(ctx, client.ObjectKeyFromObject(inc), inc); err != nil {
			return err
		}
		if !metav1.IsControlledBy(inc, d) {
			return fmt.Errorf("incident %s exists and is not a run of Drill %s: delete or rename it", name, d.Name)
		}
		log.FromContext(ctx).Info("adopted the drill Incident a previous attempt declared", "incident", name)
	} else if err != nil {
		return err
	}
	startedAt := inc.CreationTimestamp
	d.Status.Active = &v1alpha1.DrillRun{Incident: name, StartedAt: startedAt,
		EndsAt: metav1.NewTime(startedAt.Add(d.Spec.TimeLimit.Duration))}
	s.incident, s.started = inc, true
	s.event(d, "start/"+name, corev1.EventTypeNormal, v1alpha1.EventDrillStarted,
		fmt.Sprintf("Run %s started: %s, IC %s, time limit %s", name, sc.Title, d.Spec.Commander, d.Spec.TimeLimit.Duration))
	return nil
}

// play records the injects due, applies Impact injects to the Incident, and ends the run at
// its time limit, resolving the Incident.
func (r *Reconciler) play(ctx context.Context, s *runState) error {
	act := s.drill.Status.Active
	if act == nil || s.incident == nil {
		return nil
	}
	if s.scenario != nil {
		injects := plan(s.scenario)
		played, wait := playDue(act, injects, s.now)
		for _, p := range played {
			if in := injects[p.Index]; in.Type == v1alpha1.InjectImpact {
				// Idempotent: a retry sets the same impact again.
				patch := client.MergeFrom(s.incident.DeepCopy())
				s.incident.Spec.Impact = in.Impact.DeepCopy()
				if err := r.Patch(ctx, s.incident, patch, responders); err != nil {
					return err
				}
			}
			s.event(s.incident, fmt.Sprintf("inject/%d", p.Index), corev1.EventTypeNormal, v1alpha1.EventInjectPlayed,
				fmt.Sprintf("[DRILL] inject %d at +%s (%s): %s", p.Index+1, p.PlannedAt.Sub(act.StartedAt.Time), p.Type, p.Message))
		}
		s.played = played
		s.wait = wait
	}
	if s.now.Before(act.EndsAt.Time) {
		s.wait = minPositive(s.wait, act.EndsAt.Sub(s.now))
		return nil
	}
	// The grade is of the record at the limit; the resolve that follows is Firescope's, not
	// the team's.
	updates, err := r.statusUpdates(ctx, s.incident)
	if err != nil {
		return err
	}
	s.updates = updates
	s.finish(s.incident.DeepCopy(), v1alpha1.DrillEndTimeLimit, act.EndsAt.Time)
	if s.incident.Spec.State.IsOpen() {
		patch := client.MergeFrom(s.incident.DeepCopy())
		s.incident.Spec.State = v1alpha1.StateResolved
		if err := r.Patch(ctx, s.incident, patch, responders); err != nil {
			return err
		}
	}
	return nil
}

// finish grades the active run from inc (nil when the Incident is gone) and moves it to the
// history.
func (s *runState) finish(inc *v1alpha1.Incident, reason v1alpha1.DrillEndReason, end time.Time) {
	d := s.drill
	act := d.Status.Active
	res := v1alpha1.DrillRunResult{Incident: act.Incident, StartedAt: act.StartedAt, EndedAt: metav1.NewTime(end),
		EndReason: reason, Grade: "none", Injects: act.Injects}
	if inc != nil && s.scenario != nil {
		res.Criteria = grade(runRecord{inc: inc, policy: s.policy, scenario: s.scenario, updates: s.updates, start: act.StartedAt.Time, end: end})
		// Decided later, once the post-mortem is Published or due (regradePostmortems).
		res.Criteria = append(res.Criteria, gradePostmortem(s.policy.WantsPostmortem(inc), reason, nil, s.now))
		res.Grade, _ = score(res.Criteria)
	}
	limit := int(d.Spec.HistoryLimit)
	if limit <= 0 {
		limit = 5
	}
	d.Status.Runs = append(d.Status.Runs, res)
	if n := len(d.Status.Runs); n > limit {
		d.Status.Runs = d.Status.Runs[n-limit:]
	}
	d.Status.LastRunAt, d.Status.LastGrade, d.Status.Active = &res.StartedAt, res.Grade, nil
	s.ended = append(s.ended, res)
	note := fmt.Sprintf("Run %s ended (%s): grade %s", res.Incident, reason, res.Grade)
	var failed []string
	for _, c := range res.Criteria {
		if c.Result == v1alpha1.CriterionFail {
			failed = append(failed, c.Name)
		}
	}
	if len(failed) > 0 {
		note += "; to practise: " + strings.Join(failed, ", ")
	}
	s.event(d, "graded/"+res.Incident, corev1.EventTypeNormal, v1alpha1.EventDrillGraded, note)
}

// announce tells the comms channel about the run started and the injects played, once each:
// it runs after the status that records them is stored, and a failed call is not retried.
func (r *Reconciler) announce(ctx context.Context, s *runState) {
	if (!s.started && len(s.played) == 0) || s.incident == nil || s.policy == nil || s.policy.Spec.CommsChannel == nil {
		return
	}
	ch, err := r.Channels.Channel(ctx, s.drill.Namespace, s.policy.Spec.CommsChannel)
	if err != nil {
		log.FromContext(ctx).Error(err, "building the comms channel for drill injects")
		return
	}
	inc := s.incident
	ref := fmt.Sprintf("*%s* (%s/%s)", inc.Spec.Title, inc.Namespace, inc.Name)
	var items []notify.Announcement
	if s.started {
		to := []string{"@" + string(s.drill.Spec.Commander)}
		for _, p := range s.drill.Spec.Participants {
			to = append(to, "@"+string(p))
		}
		items = append(items, notify.Announcement{ID: string(inc.UID) + "/drill-start", Kind: v1alpha1.EventDrillStarted, At: inc.CreationTimestamp.Time,
			Text: fmt.Sprintf("[DRILL] %s: drill %s has started, %s is IC; time limit %s\n%s", strings.Join(to, " "), s.drill.Name, s.drill.Spec.Commander, s.drill.Spec.TimeLimit.Duration, ref)})
	}
	for _, p := range s.played {
		items = append(items, notify.Announcement{ID: fmt.Sprintf("%s/inject/%d", inc.UID, p.Index), Kind: v1alpha1.EventInjectPlayed, At: p.PlayedAt.Time,
			Text: injectText(inc, p) + "\n" + ref})
	}
	for _, a := range items {
		a.Namespace, a.Incident, a.Drill = inc.Namespace, inc.Name, true
		result := "delivered"
		if err := ch.Announce(ctx, a); err != nil {
			result = "failed"
			log.FromContext(ctx).Error(err, "announcing a drill inject; the run's status keeps it", "kind", a.Kind)
		}
		injectAnnouncements.WithLabelValues(result).Inc()
	}
}

// injectText words an inject for the comms channel: a Pressure inject is addressed to the IC.
func injectText(inc *v1alpha1.Incident, p v1alpha1.PlayedInject) string {
	switch p.Type {
	case v1alpha1.InjectPressure:
		ic := string(inc.Spec.Roles.Commander)
		if ic == "" {
			ic = "all"
		}
		return fmt.Sprintf("[DRILL] @%s: %s", ic, p.Message)
	case v1alpha1.InjectImpact:
		return "[DRILL] @all: Impact: " + p.Message
	}
	return "[DRILL] @all: " + p.Message
}
