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

// Package wording checks a customer-facing status update against the guidelines from "Every
// Minute Counts" (DESIGN.md, "Wording guidelines"): a status update should say what is
// broken, what is being done to fix it and what customers can do to work around it; it should
// not give an explicit ETA, presume to know the root cause or shift blame.
//
// The admission webhook returns the findings as warnings (a ResponsePolicy may make them
// errors) and the StatusUpdate controller records them in a condition, so the checker runs on
// every write: it is deterministic, does no I/O, never panics, and reads at most
// MaxCheckedBytes of a message.
//
// # Rules
//
// Each rule has a stable id. "Should say" rules depend on the update's status; the others
// apply to every status except where noted.
//
//	rule                           investigating identified monitoring resolved
//	missing-what-is-broken         yes (a)       yes (a)    yes (a)    yes (a)
//	missing-what-is-being-done     yes           yes        yes        no  (the work is done)
//	missing-what-customers-can-do  yes           yes        yes        no  (nothing left to work around)
//	explicit-eta                   yes           yes        yes        yes
//	presumed-root-cause            yes           no         no         no  (naming the cause is what "identified" means)
//	blame                          yes           yes        yes        yes
//
// (a) wording that says what works again counts when it names what works ("deploys are
// working again", "Actions is operating normally"), not "everything is back to normal".
//
// An unknown status is checked like "investigating", the strictest set, so that a typo never
// silences the checker.
//
// # Heuristics
//
// The text is lower-cased, curly quotes and common contractions are normalized ("we'll" ->
// "we will", "can't" -> "cannot"), and whitespace is collapsed. Rules are phrase lists and small
// RE2 regular expressions, which run in linear time. Several rules look at the clause around a
// match: the text back to the previous sentence end (".", "!", "?", ";", line break) or
// conjunction (" and ", " but ", " while ", ...), at most 240 bytes away. Only the product
// names of missing-what-is-broken are read in the message as written, since capitals are
// what marks them.
//
//   - missing-what-is-broken: needs a symptom ("errors", "failing", "unavailable", "unable",
//     "cannot", "degraded", "delays", "timeouts", "latency", "response times", "5xx", "signed
//     out", "disconnects", "in an unregistered state", "prevented from", "not being delivered",
//     ...), "elevated"/"increased" with what customers see ("increased error rates"; "increased
//     load" is the system's trouble), "issues with X" or "an issue that may impact X" or
//     "affecting X" where X is not a vague "some customers" or "our platform", a named issue
//     ("connection issues", "your mailbox is having issues"), what an issue gets in the way of
//     ("an issue retrieving call details", "an issue users face when loading comments"), what
//     is impacted, before or after the word ("a fix for the impacted M0 clusters",
//     "registration is still impacted", "the outbound notifications affecting some customers"),
//     a trouble word next to what is in trouble ("a Slack outage", "disruption to file
//     uploads", "trouble connecting"), or what works again with what it is ("Check-In is back
//     to normal", "webhooks are being delivered normally", "a recovery in SMS delivery", "the
//     query service is operational again", "provisioning has been re-enabled", "the scheduler
//     has been successfully enabled", "versions are publishing as expected", "search has been
//     fixed"; a clause after "and" shares the subject of the one before it: "the queued emails
//     have been sent and are delivering normally"). "We are investigating an issue", "we are
//     aware of an outage" and "all systems are operating normally" name nothing a customer can
//     recognise, and neither does a place, a vendor or a time ("recovery across all regions",
//     "the AWS outage", "stable since the end of the interval", "a brief disruption", "a
//     majority of impacted services are recovering", "the provider has not yet recovered", "Aug
//     04", "this interruption with our cloud provider", "success rates have returned to
//     normal"); "monitoring for errors" says no error, and "things have settled down" or
//     "narrowing down the scope" is no symptom. "We have temporarily disabled new sessions"
//     says what customers cannot use. A product written as a name in the message as published
//     names what customers use whether or not a pattern knows it ("CodeQL", "the Fly
//     Dashboard", "the iOS app", "Data Warehouse loads"), unless it is the first word of a
//     sentence (capitalized anyway), an organization, a vendor, a team, a place or a time ("Our
//     Engineering team", "AWS", "Frankfurt", "UTC", "Monday"), a short all-capital code, which
//     is more often a place than a feature ("IAD", "FRA1"; "API", "SSO" and a few more are
//     features), a name followed by a word for the whole ("Discord services"), a name in a
//     sentence that says it is unaffected ("Webhooks remained unaffected"), or part of an
//     address. A message that names one of the components its update marks (Check's components,
//     as whole words) names what is broken too; a component named with its group, "Hosted
//     Pages / HTTP Pages", is named by either part.
//   - missing-what-is-being-done: needs an action of the response ("investigating", "looking
//     into", "rolling back", "a fix", "mitigating", "monitoring", "failing over", "we are on
//     it", "we have added capacity", "keeping an eye on", "assessing", "we are catching up",
//     "we have made some changes", "working around the issue", "measures are currently being
//     tested", ...), each a whole word ("we will provide additional updates" adds nothing), the
//     team as the subject of any verb in -ing or -ed ("we are asking our hosting provider for
//     details", "our engineers have rebooted the switches", "we will be requesting logs") or of
//     what it continues to do ("we continue to explore possible solutions") unless it only
//     sees, learns, tells or waits ("we have identified the issue", "our engineers have been
//     alerted", "we are providing updates", "we are awaiting a fix", "we continue to see
//     errors"), work in the passive ("it is being rectified"; not "are being delayed"), being
//     in contact with someone ("in constant communication with our upstream"), applying
//     changes, and updating anything but the page ("we have updated our system"; not "we have
//     updated the status page"). "We are aware of the issue", "our investigation has
//     determined", "our monitoring shows", what waits for a repair ("until service is
//     restored") or "initial investigation indicates" (it is over), what the team sees ("we are
//     experiencing increased latency") and work done by someone else ("our provider is working
//     towards a resolution", "AWS is working to restore service", a message that links to a
//     vendor's status page and says nothing of us) are not actions of ours.
//   - missing-what-customers-can-do: needs advice or an explicit "nothing to do": "you can",
//     "customers should", "please retry" (not "please accept our apologies" or "please see"),
//     "if you ...", "there is no workaround" or "as a workaround" (honest answers), "no action
//     is required", "retry", "contact support", "we recommend ..." ("we also encourage ..."),
//     "the recommended solution is ...", "workaround - ...", "in the meantime, reloading ...",
//     what doing something will do ("signing out will resolve these errors"), or a sentence
//     that starts with an imperative ("Use ...", "Switch ...", "Avoid ..."). "Owners of the
//     machines must ..." is advice too. "Customers may see errors", "users may still see
//     errors", "users could experience errors" and "customers should be able to log in" are
//     impact, not advice; a workaround "put in place" by the team is an action, not advice.
//   - explicit-eta: a deadline ("by 5pm", "by 17:00 UTC", "by end of day", "by tomorrow", "by
//     December 22nd"), a relative time ("in 30 minutes", "within the hour", "over the next few
//     hours"; "delayed over 30 minutes" is how bad it is, and "please retry in a few minutes"
//     when to try again, not when it ends), how long the repair takes ("this may take a few
//     hours", "the remaining backlog may take up to 12 hours to clear"; "uploads may take 30
//     minutes longer" is impact), the word "ETA" (unless negated: "we do not have an ETA" is
//     honest), a time after an expectation ("expected resolution: 17:00 UTC", "we estimate 2
//     hours"), or a vague promise tied to a fix ("will shortly be resolved", "back up soon",
//     "will be deployed shortly", "expect to resolve the incident shortly"; not "as soon as
//     possible"). A match is not a finding when an update governs it, so "next update in 30
//     minutes" and "we will post an update by 17:00 UTC" pass: promising the next update is
//     what the talk recommends instead of an ETA. An update governs a match when update
//     language ("next update", "check back", "more information", "provide customer impact
//     details", "follow up", "post-mortem", "a root cause statement") comes earlier in the same
//     clause with no fix or expectation word in between ("we will update this page once the fix
//     is out, expected in 30 minutes" is still a finding). "Rolling out an update" is a
//     software update, not a status update. The length of a watch ("we will monitor over the
//     next few hours"), a clause in the past tense ("was", "took", "began", "returned", "we
//     noticed") and "within 5 minutes of the rollback" are not promises of a fix.
//   - presumed-root-cause (investigating only): "caused by" (or "cause by"), "triggered by",
//     "the root cause is ...", "stems from", "traced to", "attributed to", "a bug in", "due to
//     X", "because of X", "result of X" (X not "this issue" or "the incident", unless it names
//     a vendor: "due to AWS issues", "due to an issue with an upstream provider"), "is related
//     to", "these relate to", "X caused a ..." (X not the incident itself), "a knock-on effect
//     of", a change named as what breaks things ("a recent update is preventing the app from
//     loading"), a provider or a named vendor as what "is causing" or "prevents" the trouble
//     ("increased latency in Azure which is causing delays"), and a vendor's trouble that
//     affects something ("an AWS issue that is affecting compute provisioning"). Hedged or
//     negated clauses ("may be caused by", "initial investigation indicates", "is not caused
//     by", "we suspect", "we believe", "appears to"; a hedge before a colon does not reach
//     past it) and clauses about finding the cause ("we have not yet determined the root
//     cause", "we have identified the root cause", "root cause analysis") pass: saying what
//     you do not know yet is the honesty the talk asks for.
//   - blame: fault words ("not our fault", "beyond our control", "blame"), a third party as the
//     source ("our upstream provider", "our TLS certificate provider", "a downstream provider",
//     "an upstream model provider", "the payment processor", "an upstream maintenance", "on the
//     carrier side", "ISP network issues", "ISP configurations are preventing", "a third-party
//     outage", "the software we use", "an issue external to us", "they have resolved the
//     issue", "downtime from NIBSS", "a Salesforce outage has caused our portal to ...", "a
//     change made by AWS"), a named infrastructure vendor next to trouble words ("AWS is down",
//     "an outage at Cloudflare", "a GCP network anomaly", "a vendor issue"), as the one
//     restoring or reporting ("AWS is working to restore service", "Google's engineering team
//     has identified the root cause", "GCP has reported", "we have seen AWS S3 recover"), or a
//     third party's status page or updates as where to look ("we are monitoring the provider's
//     status", "we will monitor Microsoft Azure's status post", "live updates from Microsoft",
//     "please follow https://www.examplestatus.com/incidents/..."; a status page's address with
//     no path is often the page's own). An instance failure "on GCP" is where, not who;
//     "failures from multiple networks" comes from no one in particular; "working with our
//     carrier partner", "investigating the errors with our cloud provider", "monitoring the
//     situation alongside our carriers", "escalated to our cloud provider" or "asking for
//     details from our hosting provider" is collaboration; a sentence that opens with
//     "Cloudflare is investigating", "Cloudflare has identified an issue" or "Twilio customers
//     may be experiencing" is often the page's own company, unless the message links to that
//     vendor's status page ("Cloudflare is continuing to work on a fix.
//     https://www.cloudflarestatus.com/incidents/..." relays the vendor's word); and a vendor's
//     trouble that left us "unaffected", or an update that says customers see no impact, blames
//     no one for anything. Customers chose us, not our vendors ("who owns my availability?"),
//     so the update owns the impact.
//
// The rules are measured against real updates from public status pages
// (internal/wording/corpus, docs/statusupdates.md).
//
// # Trade-offs
//
// The checker prefers precision to recall: it returns warnings to a person under pressure,
// and a warning that is often wrong teaches people to ignore all of them. So promises of the
// next update, hedged guesses about the cause, "no workaround" statements and past timelines
// pass, and the ETA rule misses deadlines hidden behind an earlier "update" in the same clause.
// The "should say" rules are keyword checks: they catch an update that says nothing useful,
// not one that is vague in new words. A name capitalized in the middle of a sentence keeps
// missing-what-is-broken quiet, so the page's own company name written that way ("an issue
// with Acme") passes unless the names of organizations list it. At most one finding per rule
// is returned, quoting the first offending words, so that warnings stay short (Kubernetes
// truncates long ones).
package wording

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// Rule ids: stable, used in conditions, metrics and policies.
const (
	RuleMissingWhatIsBroken       = "missing-what-is-broken"
	RuleMissingWhatIsBeingDone    = "missing-what-is-being-done"
	RuleMissingWhatCustomersCanDo = "missing-what-customers-can-do"
	RuleExplicitETA               = "explicit-eta"
	RulePresumedRootCause         = "presumed-root-cause"
	RuleBlame                     = "blame"
)

// Rules lists every rule id in the order Check reports findings.
var Rules = []string{
	RuleMissingWhatIsBroken,
	RuleMissingWhatIsBeingDone,
	RuleMissingWhatCustomersCanDo,
	RuleExplicitETA,
	RulePresumedRootCause,
	RuleBlame,
}

// MaxCheckedBytes bounds the work per message: only the first MaxCheckedBytes bytes are read.
// Real status updates are a few hundred bytes; anything past this is not read by customers
// either.
const MaxCheckedBytes = 16 << 10

// Finding is one way a customer-facing message departs from the guidelines.
type Finding struct {
	// Rule is the stable id of the rule, one of Rules.
	Rule string
	// Message is one sentence a tired Comms person can act on, quoting the offending words
	// when there are some.
	Message string
}

// Status-page statuses, as in the StatusUpdate API.
const (
	statusInvestigating = "investigating"
	statusIdentified    = "identified"
	statusMonitoring    = "monitoring"
	statusResolved      = "resolved"
)

// Check returns the findings for a status update message with the given status
// (investigating|identified|monitoring|resolved), in the order of Rules, at most one per rule;
// nil when the message follows the guidelines. components are the names of the components
// the update marks (a StatusUpdate's spec.components): a message that names one of them says
// what is broken, whatever the rules read in it.
func Check(status, message string, components ...string) []Finding {
	st := normalizeStatus(status)
	t := normalize(message)
	resolved := st == statusResolved

	var out []Finding
	if !saysWhatIsBroken(t) && !namesProduct(message) && !namesComponent(t, components) {
		msg := "does not say what is broken: name the affected feature and what customers see (errors, delays, failed deploys)"
		if resolved {
			msg = "does not say what was broken: name what is working normally again"
		}
		out = append(out, Finding{Rule: RuleMissingWhatIsBroken, Message: msg})
	}
	if Applies(RuleMissingWhatIsBeingDone, st) && !saysWhatIsBeingDone(t) {
		out = append(out, Finding{Rule: RuleMissingWhatIsBeingDone,
			Message: "does not say what is being done: say what the team is doing now (investigating, rolling back, deploying a fix)"})
	}
	if Applies(RuleMissingWhatCustomersCanDo, st) && !saysWhatCustomersCanDo(t) {
		out = append(out, Finding{Rule: RuleMissingWhatCustomersCanDo,
			Message: "does not say what customers can do: give a workaround, or say plainly that there is none or that no action is needed"})
	}
	if q, ok := findETA(t); ok {
		out = append(out, Finding{Rule: RuleExplicitETA,
			Message: "says when it will be fixed " + quote(q) + ": promise the next update instead, not a fix time"})
	}
	if Applies(RulePresumedRootCause, st) {
		if q, ok := findPresumedCause(t); ok {
			out = append(out, Finding{Rule: RulePresumedRootCause,
				Message: "names a cause while still investigating " + quote(q) + ": describe what customers see and leave the cause until it is confirmed"})
		}
	}
	if q, ok := findBlame(t); ok {
		out = append(out, Finding{Rule: RuleBlame,
			Message: "points at someone else " + quote(q) + ": customers chose us, so own the impact and say what we are doing about it"})
	}
	return out
}

// Applies reports whether Check judges a message of the given status by the rule (the table
// in the package documentation): the "should say" rules and presumed-root-cause depend on
// the status, the others apply to every status. An unknown rule applies to nothing.
func Applies(rule, status string) bool {
	switch st := normalizeStatus(status); rule {
	case RuleMissingWhatIsBroken, RuleExplicitETA, RuleBlame:
		return true
	case RuleMissingWhatIsBeingDone, RuleMissingWhatCustomersCanDo:
		return st != statusResolved
	case RulePresumedRootCause:
		return st == statusInvestigating
	}
	return false
}

// normalizeStatus maps the status to one of the four known ones; anything else is checked as
// investigating, the strictest set.
func normalizeStatus(status string) string {
	if len(status) > 32 {
		return statusInvestigating
	}
	switch s := strings.ToLower(strings.TrimSpace(status)); s {
	case statusIdentified, statusMonitoring, statusResolved:
		return s
	default:
		return statusInvestigating
	}
}

var (
	charReplacer = strings.NewReplacer(
		"\u2019", "'", "\u2018", "'", "\u201c", "'", "\u201d", "'", `"`, "'", "`", "'",
		"\u2013", "-", "\u2014", " - ", "\u2026", "...",
	)
	contractionReplacer = strings.NewReplacer(
		"can't", "cannot", "can not", "cannot", "won't", "will not", "we're", "we are",
		"we'll", "we will", "we've", "we have", "we'd", "we would", "you're", "you are",
		"you'll", "you will", "you've", "you have", "don't", "do not", "doesn't", "does not",
		"isn't", "is not", "aren't", "are not", "couldn't", "could not", "wasn't", "was not",
		"weren't", "were not", "it's", "it is", "there's", "there is", "haven't", "have not",
		"hasn't", "has not",
	)
)

// normalize bounds, repairs and lower-cases the message, collapses spaces (keeping one line
// break where there were any, as a sentence end) and expands contractions.
func normalize(s string) string {
	if len(s) > MaxCheckedBytes {
		s = s[:MaxCheckedBytes]
	}
	s = strings.ToValidUTF8(s, " ")
	s = strings.ToLower(s)
	s = charReplacer.Replace(s)

	var b strings.Builder
	b.Grow(len(s))
	space, newline := false, false
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029':
			space, newline = true, true
			continue
		case r == ' ' || r == '\t' || r < 0x20 || r == 0x7f || r == '\u00a0' || (r >= 0x80 && r <= 0x9f) || r == '\u200b' || r == '\u3000' || (r >= '\u2000' && r <= '\u200a'):
			space = true
			continue
		}
		if space && b.Len() > 0 {
			if newline {
				b.WriteString("\n")
			} else {
				b.WriteByte(' ')
			}
		}
		space, newline = false, false
		b.WriteRune(r)
	}
	return contractionReplacer.Replace(b.String())
}

// maxMatches bounds how many matches of one pattern are examined, so that a message made of
// thousands of "in 5 minutes" costs no more than a normal one.
const maxMatches = 32

// clauseWindow bounds how far a clause reaches from a match.
const clauseWindow = 240

var conjunctions = []string{" and ", " but ", " while ", " although ", " though ", " however ", " whereas "}

// sentenceEnd reports whether t[i] ends a sentence or clause: ".", "!", "?" followed by a
// space or the end (so "17.5", "a.m" and "status.example.com" do not), ";" or a line break.
func sentenceEnd(t string, i int) bool {
	switch t[i] {
	case '!', '?', ';', '\n':
		return true
	case '.':
		return i+1 == len(t) || t[i+1] == ' ' || t[i+1] == '\n'
	}
	return false
}

// sentenceBefore returns the text of the sentence from its start up to p, at most
// clauseWindow bytes.
func sentenceBefore(t string, p int) string {
	lo := max(0, p-clauseWindow)
	for i := p - 1; i >= lo; i-- {
		if sentenceEnd(t, i) {
			return t[i+1 : p]
		}
	}
	return t[lo:p]
}

// sentenceAfter returns the text of the sentence from q to its end, at most clauseWindow
// bytes.
func sentenceAfter(t string, q int) string {
	hi := min(len(t), q+clauseWindow)
	for i := q; i < hi; i++ {
		if sentenceEnd(t, i) {
			return t[q:i]
		}
	}
	return t[q:hi]
}

// clauseBefore returns the text of the clause from its start up to p.
func clauseBefore(t string, p int) string {
	seg := sentenceBefore(t, p)
	cut := 0
	for _, c := range conjunctions {
		if j := strings.LastIndex(seg, c); j >= 0 && j+len(c) > cut {
			cut = j + len(c)
		}
	}
	return seg[cut:]
}

// clauseAfter returns the text of the clause from q to its end.
func clauseAfter(t string, q int) string {
	seg := sentenceAfter(t, q)
	for _, c := range conjunctions {
		if j := strings.Index(seg, c); j >= 0 {
			seg = seg[:j]
		}
	}
	return seg
}

// quote returns the offending words in parentheses and quotes, bounded so that the warning
// stays short.
func quote(s string) string {
	s = strings.TrimSpace(s)
	const limit = 48
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = strings.TrimSpace(s[:cut]) + "..."
	}
	return `("` + s + `")`
}

// firstMatch returns the first match of re in t that keep accepts, looking at no more than
// maxMatches matches.
func firstMatch(re *regexp.Regexp, t string, keep func(start, end int) bool) (string, bool) {
	for _, m := range re.FindAllStringIndex(t, maxMatches) {
		if keep(m[0], m[1]) {
			return t[m[0]:m[1]], true
		}
	}
	return "", false
}

// namesComponent reports whether the normalized message t names one of the components, as
// a whole word or words ("Postgres provisioning", not "API" inside "rapid"). A status page
// names a component in a group by both, "Hosted Pages / HTTP Pages" (a slash between
// spaces), and an update names it by either, so each part of such a name counts; a slash
// without spaces ("CDN/Cache") is part of one name.
func namesComponent(t string, components []string) bool {
	for _, c := range components {
		for _, n := range strings.Split(normalize(c), " / ") {
			if containsWords(t, strings.TrimSpace(n)) {
				return true
			}
		}
	}
	return false
}

// containsWords reports whether t holds n as a whole word or words; an empty n it does not.
func containsWords(t, n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i+len(n) <= len(t); {
		j := strings.Index(t[i:], n)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(n)
		if !wordByte(t, start-1) && !wordByte(t, end) {
			return true
		}
		i = start + 1
	}
	return false
}

// wordByte reports whether t[i] is part of a word: a letter or a digit. Outside t is not.
func wordByte(t string, i int) bool {
	if i < 0 || i >= len(t) {
		return false
	}
	c := t[i]
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 0x80
}
