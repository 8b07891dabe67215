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

package wording_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"firescope.dev/firescope/internal/wording"
)

const (
	broken = wording.RuleMissingWhatIsBroken
	doing  = wording.RuleMissingWhatIsBeingDone
	canDo  = wording.RuleMissingWhatCustomersCanDo
	eta    = wording.RuleExplicitETA
	cause  = wording.RulePresumedRootCause
	blame  = wording.RuleBlame
)

// example is one status update as a Comms person might write it, in the style of public status
// pages (Heroku, GitHub, Atlassian Statuspage), with the rules it should break.
type example struct {
	name    string
	status  string
	message string
	want    []string
}

// examples is the table of real-world style updates. The good ones follow the talk: what is
// broken, what is being done, what customers can do, and a promise of the next update rather
// than of a fix.
var examples = []example{
	// Good updates: no findings.
	{"investigating: symptom, action, workaround and next update time", "investigating",
		"We are investigating elevated error rates for API requests in the EU region. Some requests may fail with HTTP 503. Retrying failed requests should succeed in most cases. Next update in 30 minutes.",
		nil},
	{"investigating: workaround through another protocol", "investigating",
		"Some customers are unable to push to Git repositories over SSH. Our engineers are investigating. Pushing over HTTPS works normally and can be used in the meantime. We will post another update within 30 minutes.",
		nil},
	{"identified: queued not lost, no action needed, next update in an hour", "identified",
		"We have identified the cause of delayed webhook deliveries and are deploying a fix. Webhooks are queued, not lost, and will be delivered once the fix is out; no action is needed on your side. Next update in 1 hour.",
		nil},
	{"monitoring: fix deployed, watching, contact support", "monitoring",
		"A fix has been deployed and dashboard load times are back to normal. We are monitoring to make sure the slowness does not return. If you still see slow pages, please contact support.",
		nil},
	{"resolved: past window and a retry hint", "resolved",
		"This incident has been resolved. Builds are running normally again, and builds that failed between 14:02 and 14:40 UTC can be retried from the dashboard.",
		nil},
	{"resolved: post-mortem promised within business days", "resolved",
		"Git operations are working normally again. We apologize for the disruption and will publish a post-mortem within 5 business days.",
		nil},
	{"investigating: CLI unaffected, update this page in 30 minutes", "investigating",
		"We are investigating reports that some customers cannot log in to the dashboard. The CLI and API are not affected, so you can continue to deploy with the CLI. We will update this page in 30 minutes.",
		nil},
	{"identified: next update by a clock time", "identified",
		"We have identified a problem with certificate renewals for custom domains. Engineers are working on a fix. Certificates that are still valid are unaffected; if yours has expired, you can switch to the default domain until renewal completes. Next update by 16:00 UTC.",
		nil},
	{"monitoring: rolled back, customers can sign in again", "monitoring",
		"We have rolled back the release that introduced the login errors and error rates have returned to normal. We are continuing to monitor. Customers who were signed out can sign in again.",
		nil},
	{"investigating: hedged guess about the cause", "investigating",
		"We are investigating increased latency for database queries in us-east. We suspect the latency may be caused by a recent network change but have not confirmed it. There is no workaround at this time. Next update in 30 minutes.",
		nil},
	{"investigating: aware and looking into it, nothing to do", "investigating",
		"We are aware of delays in email notifications and are looking into it. Notifications are queued and will be sent; no action is required.",
		nil},
	{"investigating: says the root cause is not known yet", "investigating",
		"We have not yet determined the root cause of the failing deploys. Engineers are investigating, and you can retry deploys that fail.",
		nil},
	{"monitoring: mitigation, occasional timeouts, update within the hour", "monitoring",
		"We have applied a mitigation and page load times have improved. You may still see occasional timeouts; retrying the request should succeed. We will continue to monitor and post an update within the hour.",
		nil},
	{"investigating: check back for an update", "investigating",
		"We are investigating delayed log drains. Please check back in 30 minutes for an update.",
		nil},
	{"identified: update promised after a deployed patch", "identified",
		"We have identified a bug in the log router that drops some lines. Engineers are deploying a patch and we will provide an update by 17:00 UTC. Lines dropped so far cannot be recovered; you can re-send them from your own logs.",
		nil},
	{"investigating: next update at a clock time", "investigating",
		"We are investigating intermittent failures of scheduled jobs. Next update at 15:30 UTC or sooner. If a job did not run, you can trigger it by hand.",
		nil},
	{"investigating: one line per fact, no punctuation", "investigating",
		"Investigating\nSome apps are returning H10 errors\nWe are looking into it\nIn the meantime, restarting the app may help",
		nil},
	{"resolved: cause named after the fact", "resolved",
		"Between 09:12 and 10:05 UTC, deploys failed for some customers due to a bad configuration change. The change was reverted and deploys are working normally. We're sorry for the trouble.",
		nil},
	{"resolved: time to recover in the past tense", "resolved",
		"Error rates returned to normal at 11:40 UTC. The database failover took 20 minutes to complete. All API requests are succeeding.",
		nil},
	{"identified: rolling out a software update is not a status update", "identified",
		"Dashboard charts are not loading for some customers. We are rolling out an update to the metrics service. You can still read metrics through the API. Next update in 45 minutes.",
		nil},
	{"investigating: honest about having no ETA", "investigating",
		"We are investigating failed Postgres provisioning in the EU region. We do not have an ETA for a fix yet and will post an update in 30 minutes. Existing databases are not affected; please use the US region for new databases if you can.",
		nil},
	{"investigating: curly apostrophes and smart quotes", "investigating",
		"We’re investigating “connection reset” errors on the Redis add-on. If you’re affected, you can retry the connection; clients reconnect automatically. We’ll post another update in 20 minutes.",
		nil},

	{"monitoring: what works again says what was broken; monitoring over hours is no ETA", "monitoring",
		"Deploys are working again. We will continue to monitor over the next few hours. No action is needed.",
		nil},
	{"monitoring: a timeline relative to the rollback is no ETA", "monitoring",
		"Errors dropped to zero within 5 minutes of the rollback. Retry if needed; we are monitoring.",
		nil},
	{"investigating: customers' third-party integrations are impact, not blame", "investigating",
		"Customers using third-party integrations may see delayed events. We are investigating. No action is needed.",
		nil},
	{"investigating: more information is a next-update promise", "investigating",
		"We are investigating failed logins. Customers who use SSO can sign in with a password instead. We will post more information in 30 minutes.",
		nil},

	// What the public corpus taught (internal/wording/corpus), in words of our own.
	{"investigating: a component that works again names it, at any status", "investigating",
		"Webhooks is operating normally. Git pushes are still failing for some repositories; we are investigating. You can push over HTTPS.",
		nil},
	{"resolved: everything back to normal names nothing", "resolved",
		"We believe everything is back to normal.",
		[]string{broken}},
	{"monitoring: watching for errors says no error", "monitoring",
		"A fix has been applied and we are monitoring for errors.",
		[]string{broken, canDo}},
	{"identified: a finished investigation is not an action, nor is a provider's work", "identified",
		"Our investigation has determined that card payments are failing. Our payment provider is working towards a resolution. You can pay by bank transfer.",
		[]string{doing, blame}},
	{"investigating: apologies and patience are not advice", "investigating",
		"Search results are slow to load. We are looking into it. Please accept our apologies.",
		[]string{canDo}},
	{"monitoring: what customers will see is not what they can do", "monitoring",
		"We rolled out a fix and customers should be able to sign in again. We are watching the error rates.",
		[]string{canDo}},
	{"investigating: finding the root cause is not presuming one", "investigating",
		"Exports are failing. We have identified the root cause and are deploying a fix. Please retry exports after the next update.",
		nil},
	{"identified: a fix deployed shortly is a fix time", "identified",
		"Report downloads time out. A fix is ready and will be deployed shortly. You can download smaller date ranges.",
		[]string{eta}},
	{"identified: an outage elsewhere that caused ours is blame", "identified",
		"A Twilio outage has caused our SMS alerts to be delayed. We are working on routing them another way. Email alerts are not affected; switch to email for now.",
		[]string{blame}},
	{"investigating: trouble coming from a named party is blame", "investigating",
		"Card top-ups are failing because of downtime from AcmeBank. We are monitoring. Please use another card.",
		[]string{cause, blame}},

	// Say what is broken, what is being done, what customers can do.
	{"investigating: an issue, nothing more", "investigating",
		"We are investigating an issue.",
		[]string{broken, canDo}},
	{"investigating: aware and nothing else", "investigating",
		"We are aware of the issue affecting some customers.",
		[]string{broken, doing, canDo}},
	{"identified: Statuspage template", "identified",
		"The issue has been identified and a fix is being implemented.",
		[]string{broken, canDo}},
	{"monitoring: Statuspage template", "monitoring",
		"A fix has been implemented and we are monitoring the results.",
		[]string{broken, canDo}},
	{"resolved: Statuspage template", "resolved",
		"This incident has been resolved.",
		[]string{broken}},
	{"investigating: impact with no advice", "investigating",
		"We are investigating errors with the API. We will update you as we learn more. Customers cannot create apps.",
		[]string{canDo}},
	{"investigating: impact and next update only", "investigating",
		"Customers may see errors. Next update in 15 minutes.",
		[]string{doing, canDo}},
	{"investigating: empty", "investigating", "", []string{broken, doing, canDo}},
	{"resolved: empty", "resolved", "", []string{broken}},

	// No explicit ETA.
	{"identified: fix by 5pm", "identified",
		"We have identified the cause of failed builds and expect a fix by 5pm.",
		[]string{canDo, eta}},
	{"identified: fix live in 30 minutes", "identified",
		"Deploys are failing for some apps. We are rolling out a fix, which should be live in 30 minutes. You can deploy with the CLI in the meantime.",
		[]string{eta}},
	{"investigating: resolved within the hour", "investigating",
		"API requests are failing with 500 errors. We are investigating and expect to have this resolved within the hour. Please retry failed requests.",
		[]string{eta}},
	{"identified: the word ETA", "identified",
		"Webhook deliveries are delayed. We have identified the cause and are working on a fix. ETA: 45 minutes. Please do not resend webhooks.",
		[]string{eta}},
	{"monitoring: full recovery by end of day", "monitoring",
		"We deployed a fix for the dashboard errors and expect full recovery by end of day. Please refresh your browser if pages still fail to load.",
		[]string{eta}},
	{"identified: shortly be restored", "identified",
		"Login errors are caused by an expired certificate. We are replacing it and service will shortly be restored. No action is needed.",
		[]string{eta}},
	{"investigating: back up soon", "investigating",
		"Some customers cannot access the dashboard. We expect to be back up soon.",
		[]string{doing, canDo, eta}},
	{"identified: good next update next to a fix time", "identified",
		"Add-on provisioning is failing. We are deploying a fix and expect it to be complete in 2 hours. Next update in 30 minutes. You can retry provisioning after the fix.",
		[]string{eta}},
	{"identified: back to normal within 45 minutes", "identified",
		"Slow builds are due to high demand on our build fleet. We are adding capacity, and builds should be back to normal within 45 minutes. Queued builds will run automatically, so no action is needed.",
		[]string{eta}},
	{"monitoring: resolve by a clock time", "monitoring",
		"We failed over to the standby database and errors have stopped. We expect to resolve this incident by 18:00 UTC if things stay stable. No action is needed.",
		[]string{eta}},
	{"identified: update promised but the fix time follows it", "identified",
		"Uploads are failing for files over 100 MB. We will update this page once the fix is out, expected in 30 minutes. Smaller uploads work, so please split large files for now.",
		[]string{eta}},
	{"investigating: expected resolution at a clock time", "investigating",
		"We are investigating slow page loads on the dashboard. Expected resolution: 17:30 UTC. You can use the CLI instead.",
		[]string{eta}},
	{"identified: curly apostrophe and a fix by tomorrow", "identified",
		"Invoices show incorrect totals. We’re correcting the calculation and we’ll have it fixed by tomorrow morning. You don’t need to do anything.",
		[]string{eta}},

	{"identified: a configuration update that fixes it within the hour", "identified",
		"Builds are delayed. We are deploying a configuration update that will fix this within the hour. Retry if needed.",
		[]string{eta}},

	// No presumed root cause while investigating.
	{"investigating: caused by a bug", "investigating",
		"We are investigating failed payments. This is caused by a bug in our billing service. Customers should not retry payments until further notice.",
		[]string{cause}},
	{"investigating: due to a load balancer", "investigating",
		"Customers are seeing slow builds due to a misconfigured load balancer. We are investigating. There is no workaround at this time.",
		[]string{cause}},
	{"investigating: the root cause is", "investigating",
		"The root cause is a failed database migration. Our engineers are investigating the resulting errors. Please avoid running migrations for now.",
		[]string{cause}},
	{"investigating: result of a bad deploy", "investigating",
		"Elevated error rates are the result of a bad deploy. We are rolling it back. You can retry failed requests.",
		[]string{cause}},
	{"investigating: because of a failing health check", "investigating",
		"Some customers are unable to deploy because of a failing health check. We are investigating. You can retry.",
		[]string{cause}},
	{"investigating: due to this issue is impact, not cause", "investigating",
		"Due to this issue, some customers cannot scale their apps. We are investigating. Please avoid scaling until the next update in 30 minutes.",
		nil},
	{"identified: naming the cause is what identified means", "identified",
		"Failed deploys are caused by a bug in the build cache. We are deploying a fix. You can deploy with --no-cache in the meantime.",
		nil},
	{"unknown status is checked like investigating", "degraded",
		"Errors are caused by a bad deploy. We are rolling it back. Please retry.",
		[]string{cause}},

	// No blame.
	{"investigating: AWS is down", "investigating",
		"Dashboard is down because AWS is down. There is nothing we can do until Amazon fixes it. Please check back later.",
		[]string{doing, blame}},
	{"investigating: upstream provider outage", "investigating",
		"Our upstream provider is experiencing an outage, which is affecting app deploys. We are monitoring their status page. Please hold off on deploys.",
		[]string{blame}},
	{"identified: hosting provider's fault", "identified",
		"This outage is our hosting provider's fault, not ours. We are working with them to restore service. There is no workaround.",
		[]string{broken, blame}}, // "this outage" names nothing a customer uses
	{"monitoring: third-party outage", "monitoring",
		"A third-party outage caused API errors between 13:10 and 13:55 UTC. Error rates are back to normal and we are monitoring. No action is needed.",
		[]string{blame}},
	{"investigating: beyond our control", "investigating",
		"We are investigating reports of errors when creating new apps. The problem is beyond our control and lies with an upstream provider. Please retry later.",
		[]string{blame}},
	{"resolved: AWS's fault", "resolved",
		"Everything should be fixed by now, it was AWS's fault.",
		[]string{broken, blame}},
	{"monitoring: cloud provider fixed it", "monitoring",
		"Our cloud provider has fixed the networking issue that made apps unreachable. We are monitoring the recovery. Restart your dynos if your app is still unreachable.",
		[]string{blame}},
	{"investigating: hedged upstream guess, no ETA yet", "investigating",
		"We're seeing 503s on the router; we believe this might be due to an upstream DNS issue. No ETA yet. You can retry failed requests.",
		[]string{doing}},
	{"identified: everything at once", "identified",
		"It's an outage at Cloudflare. Fix in 20 minutes.",
		[]string{broken, doing, canDo, eta, blame}},

	// Trouble words name something only next to what is in trouble.
	{"investigating: an outage names nothing", "investigating",
		"We are aware of an outage and are investigating. Please retry later.",
		[]string{broken}},
	{"investigating: trouble connecting names the symptom", "investigating",
		"Customers may have trouble connecting to Slack. We are investigating. Please retry later.",
		nil},
	{"investigating: a disruption to something named", "investigating",
		"We are investigating a disruption to file uploads. You can retry failed uploads.",
		nil},
	{"monitoring: what works again, in other words", "monitoring",
		"A fix has been implemented and we are monitoring. Webhook events are being delivered normally. No action is needed.",
		nil},
	{"monitoring: settled down is no symptom", "monitoring",
		"Things have settled down and we are monitoring. No action is needed.",
		[]string{broken}},
	// What the team sees is not what it does.
	{"investigating: experiencing increased latency is no action", "investigating",
		"We are currently experiencing increased response times in the API. Please retry failed requests.",
		[]string{doing}},
	{"identified: a named vendor restoring service is their work", "identified",
		"AWS is actively working to restore service. Some clusters may see increased latency. Please contact support if you need help.",
		[]string{doing, blame}},
	// Advice and impact.
	{"identified: we recommend is advice", "identified",
		"Capacity errors affect M10 clusters and we are deploying a mitigation. We recommend upgrading to M30.",
		nil},
	{"monitoring: users may still see errors is impact", "monitoring",
		"A fix has been deployed and we are monitoring. Users may still see intermittent errors.",
		[]string{canDo}},
	// A delay of over 30 minutes is how bad it is, not when it ends.
	{"investigating: over 30 minutes is a magnitude", "investigating",
		"Some emails may be delayed over 30 minutes. The team is investigating. No action is needed.",
		nil},
	{"monitoring: over the next hour is a promise", "monitoring",
		"Delayed emails will be delivered over the next 2 hours. We are monitoring. No action is needed.",
		[]string{eta}},
	// A change of ours named as what breaks things is a cause.
	{"investigating: a recent update is preventing", "investigating",
		"A recent Discord update is preventing the app from loading on older Mac OS versions. We are investigating. Please use the web app.",
		[]string{cause}},
	{"investigating: this issue caused is impact", "investigating",
		"This issue caused a slowdown in file uploads. We are investigating. Please retry.",
		nil},
	// Working with a partner, or a vendor looking into its own product, is no blame.
	{"investigating: working with our carrier partner", "investigating",
		"We are experiencing SMS delivery delays to networks in Iraq. Our engineers are working with our carrier partner to resolve the issue. No action is needed.",
		nil},
	{"investigating: Cloudflare investigating its own dashboard", "investigating",
		"Cloudflare is investigating issues with Cloudflare Dashboard: password resets fail. We are working on a fix. Please retry later.",
		nil},
	{"identified: a vendor issue", "identified",
		"Metrics are missing from status pages due to a vendor issue. We are working on a fix. No action is needed.",
		[]string{blame}},
	{"investigating: the page's own customers are no blame", "investigating",
		"Twilio customers may be experiencing SMS delivery delays to networks in Colombia. Our team is investigating. No action is needed.",
		nil},
	{"investigating: latency in Azure causing delays", "investigating",
		"We are investigating increased latency in Azure which is causing delays in cluster changes. No action is needed.",
		[]string{cause, blame}},
	{"monitoring: a vendor that identified the cause", "monitoring",
		"Google has identified the root cause and applied mitigations; dashboards are loading again. We are monitoring. No action is needed.",
		[]string{blame}},
	{"monitoring: retry in a few minutes is advice, not an ETA", "monitoring",
		"Error rates have decreased and we are monitoring. If a request fails, please retry in a few minutes.",
		nil},
	{"monitoring: a recovery in something named", "monitoring",
		"We have observed a recovery in SMS delivery to New Zealand and are monitoring. No action is needed.",
		nil},
	{"monitoring: operational again", "monitoring",
		"The query service is operational again and we are monitoring. No action is needed.",
		nil},
	{"monitoring: catching up is an action", "monitoring",
		"New notifications are delivered, and we are catching up on delayed ones. No action is needed.",
		nil},
}

func rules(fs []wording.Finding) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.Rule)
	}
	return ids
}

func TestCheckExamples(t *testing.T) {
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			got := wording.Check(ex.status, ex.message)
			if !slices.Equal(rules(got), ex.want) {
				t.Errorf("Check(%q, %q)\n got %q\nwant %q\nfindings: %+v", ex.status, ex.message, rules(got), ex.want, got)
			}
		})
	}
}

func TestCheckMessagesQuoteTheOffendingWords(t *testing.T) {
	for _, tc := range []struct {
		status, message, rule, want string
	}{
		{"identified", "We expect a fix by 5pm.", eta,
			`says when it will be fixed ("by 5pm"): promise the next update instead, not a fix time`},
		{"investigating", "Errors are caused by a bad deploy.", cause, `("caused by")`},
		{"investigating", "Our upstream provider is down.", blame, `("our upstream provider")`},
		{"identified", "We hope to be back up soon.", eta, `("back up soon")`},
	} {
		var got string
		for _, f := range wording.Check(tc.status, tc.message) {
			if f.Rule == tc.rule {
				got = f.Message
			}
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("Check(%q, %q) %s message = %q, want it to contain %q", tc.status, tc.message, tc.rule, got, tc.want)
		}
	}
}

func TestCheckShouldSayRulesDependOnStatus(t *testing.T) {
	msg := "Errors are caused by a bad deploy."
	for status, want := range map[string][]string{
		"investigating": {doing, canDo, cause},
		"identified":    {doing, canDo},
		"monitoring":    {doing, canDo},
		"resolved":      nil,
		" Resolved ":    nil,
	} {
		if got := rules(wording.Check(status, msg)); !slices.Equal(got, want) {
			t.Errorf("Check(%q, %q) = %q, want %q", status, msg, got, want)
		}
	}
}

func TestCheckReadsOnlyTheFirstMaxCheckedBytes(t *testing.T) {
	head := "We are investigating errors on the API. You can retry. Next update in 30 minutes. "
	huge := head + strings.Repeat("x", wording.MaxCheckedBytes) + " We expect a fix by 5pm."
	if got := wording.Check("investigating", huge); got != nil {
		t.Errorf("text past MaxCheckedBytes was read: %+v", got)
	}
	// Many matches of the same pattern cost no more than a few.
	many := strings.Repeat("next update in 5 minutes. ", wording.MaxCheckedBytes/26+10)
	if got := rules(wording.Check("investigating", many)); !slices.Equal(got, []string{broken, doing, canDo}) {
		t.Errorf("repeated updates: got %q", got)
	}
}

func TestCheckToleratesInvalidUTF8(t *testing.T) {
	msg := "We are investigating \xff\xfe errors \xc3 fixed by \xe2\x80 5pm. You can retry."
	for _, f := range wording.Check("investigating", msg) {
		if !utf8.ValidString(f.Message) {
			t.Errorf("%s message is not valid UTF-8: %q", f.Rule, f.Message)
		}
	}
}

// checkInvariants is what every answer must satisfy, whatever the input.
func checkInvariants(t *testing.T, status, message string) {
	t.Helper()
	got := wording.Check(status, message)
	last := -1
	for _, f := range got {
		i := slices.Index(wording.Rules, f.Rule)
		if i < 0 {
			t.Fatalf("unknown rule %q", f.Rule)
		}
		if i <= last {
			t.Fatalf("rule %q out of order or repeated in %q", f.Rule, rules(got))
		}
		last = i
		if f.Message == "" || len(f.Message) > 256 || !utf8.ValidString(f.Message) || strings.ContainsAny(f.Message, "\n\r") {
			t.Fatalf("%s: bad message %q", f.Rule, f.Message)
		}
	}
	if again := wording.Check(status, message); !reflect.DeepEqual(got, again) {
		t.Fatalf("not deterministic: %+v then %+v", got, again)
	}
}

// FuzzCheck checks that Check never panics, reports only known rules in order with short,
// non-empty, valid messages, and gives the same answer twice.
func FuzzCheck(f *testing.F) {
	for _, ex := range examples {
		f.Add(ex.status, ex.message)
	}
	f.Add("investigating", "\xff\xfe\x00 by 5\xe2pm in 3\u00a0minutes")
	f.Add("resolved", strings.Repeat("due to ", 100))
	f.Fuzz(checkInvariants)
}

// BenchmarkCheck measures Check over the example table, and over a message at the size bound.
func BenchmarkCheck(b *testing.B) {
	b.Run("examples", func(b *testing.B) {
		var n int64
		for _, ex := range examples {
			n += int64(len(ex.message))
		}
		b.SetBytes(n)
		for b.Loop() {
			for _, ex := range examples {
				wording.Check(ex.status, ex.message)
			}
		}
	})
	b.Run("max-size", func(b *testing.B) {
		msg := strings.Repeat(examples[0].message+" ", wording.MaxCheckedBytes/len(examples[0].message)+1)
		b.SetBytes(wording.MaxCheckedBytes)
		for b.Loop() {
			wording.Check("investigating", msg)
		}
	})
}

// ruleCase is a short sentence and whether one rule should report it.
type ruleCase struct {
	status, message string
	want            bool
}

// checkRule runs the cases through Check and compares only the given rule's finding.
func checkRule(t *testing.T, rule string, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		if got := slices.Contains(rules(wording.Check(tc.status, tc.message)), rule); got != tc.want {
			t.Errorf("Check(%q, %q): %s reported = %v, want %v", tc.status, tc.message, rule, got, tc.want)
		}
	}
}

// TestWhatIsBrokenNamesTheFeature: what an issue gets in the way of, what is impacted or
// affecting, and what works again in other words (with the subject of the clause before
// "and") name what is broken; the incident, a place, a vendor, a time or a word of quantity do
// not.
func TestWhatIsBrokenNamesTheFeature(t *testing.T) {
	checkRule(t, broken, []ruleCase{
		{"investigating", "We are investigating an issue retrieving call details.", false},
		{"investigating", "We are investigating an issue users are facing when loading comments.", false},
		{"investigating", "We are investigating an issue to send invoices.", false},
		{"identified", "We are working on a fix for the impacted staging clusters.", false},
		{"monitoring", "Badge provisioning has been re-enabled.", false},
		{"monitoring", "The help center is back.", false},
		{"resolved", "Card receipts are now being successfully received.", false},
		{"monitoring", "New package versions are publishing as expected.", false},
		{"monitoring", "We are seeing recovery across builds.", false},
		{"monitoring", "Database clusters are healing.", false},
		{"investigating", "We are seeing network congestion in Europe.", false},
		{"investigating", "Exported reports may be incomplete.", false},
		{"investigating", "It is not possible to create new projects.", false},
		{"investigating", "New API keys are not authenticating correctly.", false},
		{"monitoring", "If you are not seeing your logs, reload the page.", false},
		{"investigating", "We see partial metrics drops from the agent.", false},
		{"monitoring", "Search has been fixed for all customers.", false},
		{"monitoring", "The search fix has been rolled out.", false},
		{"investigating", "This prevents the loading of stylesheets.", false},
		{"investigating", "Invoice export and scheduling are still affected. We are investigating.", false},
		{"investigating", "We are looking into the invoice reminders affecting some customers.", false},
		{"resolved", "The queued invoice emails have been sent and are delivering normally.", false},
		{"monitoring", "We are monitoring to confirm that the disconnects have stopped.", false},
		{"monitoring", "We are monitoring. If a device is still in an unknown state, restart it.", false},
		{"resolved", "The new export scheduler has been successfully enabled for all accounts.", false},

		{"investigating", "We are looking at the issue being reported.", true},
		{"resolved", "There was an issue during the night.", true},
		{"identified", "We are working on a fix for the affected customers.", true},
		{"resolved", "The issue has been fixed.", true},
		{"monitoring", "The AWS outage has ended and AWS is back.", true},
		{"resolved", "The systems have been stable since the end of the interval.", true},
		{"monitoring", "We are observing recovery across all regions.", true},
		{"investigating", "There is an outage in us-east-1.", true},
		{"identified", "We have mitigated issues and we are bringing services back online.", true},
		{"monitoring", "We are working on it for the few accounts that are still affected.", true},
		{"monitoring", "We are monitoring as the provider has not yet fully recovered.", true},
		{"investigating", "We saw a brief disruption. We are investigating.", true},
		{"monitoring", "A majority of affected services are recovering.", true},
		{"monitoring", "The region is back online and is being watched.", true},
		{"resolved", "This was resolved on Aug 12 at 10:05 UTC.", true},
		{"monitoring", "A fix has been enabled.", true},
		{"investigating", "We are investigating this interruption with our cloud provider.", true},
		{"monitoring", "A fix is out and success rates have returned to normal.", true},
	})
}

// TestWhatIsBeingDoneReadsWholeWords: a verb of the response counts as a whole word ("we will
// provide additional updates" adds nothing), with an adverb before "being", and working around
// an issue is work; an investigation that "indicates" something has ended.
func TestWhatIsBeingDoneReadsWholeWords(t *testing.T) {
	checkRule(t, doing, []ruleCase{
		{"investigating", "Builds are slow. We will provide additional updates.", true},
		{"investigating", "Builds are slow. We are adding capacity.", false},
		{"identified", "Builds are slow. Corrective measures are currently being tested.", false},
		{"identified", "Build logs are missing. We are working around the issue.", false},
		{"investigating", "Logins fail. Initial investigation indicates a network issue.", true},
		{"investigating", "Logins fail. Our investigation continues.", false},
	})
}

// TestPresumedCauseNamesWhatIsRelatedOrAVendor: "related to", a vendor's trouble that
// affects or prevents something, and "due to" a vendor or a provider's problem are causes
// stated as fact while investigating, however misspelt, and a hedge before a colon does not
// reach past it; hedged, negated or the incident itself are not.
func TestPresumedCauseNamesWhatIsRelatedOrAVendor(t *testing.T) {
	checkRule(t, cause, []ruleCase{
		{"investigating", "Uploads fail due to AWS issues in us-east-1.", true},
		{"investigating", "Some uploads fail due to the issue.", false},
		{"investigating", "The disruption is related to a database upgrade.", true},
		{"investigating", "These errors relate to a failed certificate renewal.", true},
		{"investigating", "The disruption may be related to a database upgrade.", false},
		{"investigating", "Login errors are not related to the earlier incident.", false},
		{"investigating", "Our CDN provider is down, and this prevents logins.", true},
		{"investigating", "We are aware of an AWS outage affecting uploads.", true},
		{"investigating", "Cloudflare is investigating issues affecting the dashboard.", false},
		{"identified", "The disruption is related to a database upgrade.", false},
		{"investigating", "Logins fail. This is not caused by an outage of our servers.", false},
		{"investigating", "Initial findings indicate the errors are caused by a bad cache.", false},
		{"investigating", "The errors are caused by a bad cache.", true},
		{"investigating", "Export errors cause by a bad cache.", true},
		{"investigating", "Exports fail due to a problem at our storage provider.", true},
		{"investigating", "We see an issue that may affect some customers: a recent release is breaking scheduled exports.", true},
	})
}

// TestETAReadsDatesDurationsAndFixVerbs: a deadline by a date, how long the repair or the
// backlog "may take"
// and a fix verb with "soon" promise a fix time; "as soon as possible", a root cause
// statement's deadline, a past observation and when details or a follow-up come do not.
func TestETAReadsDatesDurationsAndFixVerbs(t *testing.T) {
	checkRule(t, eta, []ruleCase{
		{"identified", "A fix will be in place by December 22nd.", true},
		{"identified", "A fix will be in place by 22 December.", true},
		{"identified", "Domains will verify once the fix is out. This may take a few hours.", true},
		{"monitoring", "Sending works again. The remaining backlog of queued invoices may take about 3 hours to clear.", true},
		{"identified", "We expect to resolve the incident shortly.", true},
		{"identified", "We hope to restore uploads soon.", true},
		{"identified", "We are working to resolve the issue as soon as possible.", false},
		{"identified", "Uploads may take 30 minutes longer than usual.", false},
		{"resolved", "A root cause statement will be published within 5 business days.", false},
		{"resolved", "Around 07:41 UTC we noticed an improvement, normalizing by 07:57 UTC.", false},
		{"investigating", "Calls drop. We will send impact details within 2 hours.", false},
		{"investigating", "Calls drop. We will follow up within the hour.", false},
		{"identified", "We will share the fix details when it ships, expected within 2 hours.", true},
	})
}

// TestBlameReadsThirdPartiesAsTheSource: downstream providers, processors, the carrier's side,
// a vendor that reports or recovers, a change made by a vendor and watching someone else's
// status point at a third party; working alongside one, a product named after one, a vendor
// trouble that left us unaffected and a company speaking of itself do not.
func TestBlameReadsThirdPartiesAsTheSource(t *testing.T) {
	checkRule(t, blame, []ruleCase{
		{"investigating", "SSO logins fail because of a downstream provider outage.", true},
		{"identified", "IPv6 errors come from an upstream maintenance.", true},
		{"resolved", "Some card payments were declined by the payment processor.", true},
		{"resolved", "It was a network configuration issue on the carrier side.", true},
		{"monitoring", "The ISP network issues have recovered.", true},
		{"monitoring", "Google's engineering team has identified the root cause.", true},
		{"monitoring", "Google Cloud Platform (GCP) has reported that services recovered.", true},
		{"monitoring", "We have seen AWS S3 recover.", true},
		{"identified", "Uploads fail after a change made by AWS to its SDKs.", true},
		{"investigating", "Logins fail. We are monitoring the provider's status.", true},
		{"investigating", "Logins fail. We are tracking their status.", true},
		{"monitoring", "Clusters recover. We will monitor Microsoft Azure's status post.", true},

		{"monitoring", "We are monitoring the situation alongside our upstream carriers.", false},
		{"monitoring", "Scheduling with Google Workspace has been fixed.", false},
		{"resolved", "Atlas is unaffected by the Azure network issue.", false},
		{"identified", "Azure reports network issues. We are not seeing any customer impact.", false},
		{"investigating", "Cloudflare is aware of and investigating an issue with Cloudflare Workers.", false},
		{"identified", "Fastly has identified an issue with Image Optimizer. We are working on a fix.", false},
		{"investigating", "We are working with our payment processor.", false},
	})
}

// TestWhatCustomersCanDoTellsAdviceFromPrediction: "users could experience errors" says what
// they will see; what owners of something "must" do, what we also recommend, a recommended
// solution, a workaround after a dash and what doing something will resolve are advice.
func TestWhatCustomersCanDoTellsAdviceFromPrediction(t *testing.T) {
	checkRule(t, canDo, []ruleCase{
		{"investigating", "Billing is slow. Some customers could be experiencing delays.", true},
		{"investigating", "Billing is slow. Users could experience errors.", true},
		{"investigating", "Billing is slow. Customers could retry later.", false},
		{"monitoring", "Backups are fixed. Owners of affected machines must rerun the backup.", false},
		{"investigating", "Exports fail. We also recommend pinning the previous client version.", false},
		{"identified", "Exports fail. The recommended solution is to export from the CLI.", false},
		{"identified", "Exports fail (workaround - export from the CLI).", false},
		{"monitoring", "A few exports still fail - reloading the page will resolve it.", false},
	})
}

// TestWhatIsBrokenReadsProductNames: a product written as a name, even one no pattern knows,
// names what customers use; the first word of a sentence, an organization, a vendor, a
// team, a place, a time, a short all-capital code, a name for the whole and a name said to be
// unaffected do not.
func TestWhatIsBrokenReadsProductNames(t *testing.T) {
	checkRule(t, broken, []ruleCase{
		{"monitoring", "CodeQL impact has been mitigated. We are continuing to monitor.", false},
		{"identified", "We are working on the fix for Data Warehouse loads.", false},
		{"monitoring", "A fix for the iOS app has been deployed and we are monitoring.", false},
		{"monitoring", "A fix for the Fly Dashboard has been deployed and we are monitoring.", false},
		{"identified", "We have temporarily disabled new sessions to these regions.", false},

		{"monitoring", "Dashboard impact has been mitigated. We are continuing to monitor.", true},
		{"identified", "Our Engineering team is working on a fix.", true},
		{"identified", "We are waiting for AWS to fix it in Frankfurt.", true},
		{"identified", "We are working on it for the EU and IAD regions since 14:00 UTC on Monday.", true},
		{"identified", "We are working on it for all Discord services.", true},
		{"identified", "We are working on it. Webhooks and Deployments remained unaffected.", true},
		{"identified", "We are working on it. See https://status.Example.com/Incidents/X for more.", true},
	})
}

// TestWhatIsBeingDoneReadsTheTeamAsSubject: the team doing something, whatever the verb, is
// work; the team seeing, learning, being told or telling is not.
func TestWhatIsBeingDoneReadsTheTeamAsSubject(t *testing.T) {
	checkRule(t, doing, []ruleCase{
		{"investigating", "Logins fail. We are asking our hosting provider for details.", false},
		{"identified", "Logins fail. Our engineers have rebooted the affected switches.", false},
		{"monitoring", "Logins work again. We have raised the connection limits.", false},

		{"investigating", "Logins fail. We are experiencing issues.", true},
		{"investigating", "Logins fail. Our engineers have been alerted.", true},
		{"identified", "Logins fail. We have identified the issue.", true},
		{"investigating", "Logins fail. We are providing updates on this page.", true},
		{"monitoring", "Logins work again and we are now operating normally.", true},
	})
}

// TestWhatIsBeingDoneReadsWorkInOtherForms: what the team will be doing or continues to do,
// work in the passive, being in contact with someone, applying changes and updating systems
// are work; monitoring as a thing we have, what waits for a repair, updating the page, what
// customers see in the passive and a vendor's update relayed with its status page are not.
func TestWhatIsBeingDoneReadsWorkInOtherForms(t *testing.T) {
	checkRule(t, doing, []ruleCase{
		{"investigating", "Webhooks are delayed. We will be requesting logs from the mail relay.", false},
		{"identified", "Webhooks are delayed. We continue to explore ways to drain the queue.", false},
		{"identified", "Webhooks are delayed. The stuck worker is being recycled.", false},
		{"investigating", "Webhooks are delayed. Our team is in constant communication with the database vendor.", false},
		{"identified", "Webhooks are delayed. The platform group is applying changes to the queue.", false},
		{"identified", "Webhooks are delayed. We have updated our queue workers.", false},

		{"identified", "Webhooks are delayed. We have updated the status page.", true},
		{"identified", "Webhooks are delayed. Our monitoring shows a backlog.", true},
		{"investigating", "Webhooks are delayed until the queue is restored.", true},
		{"identified", "Webhooks are delayed and are being processed slowly.", true},
		{"investigating", "Webhooks are delayed. We continue to see errors.", true},
		{"identified", "Fastly has identified the issue and a fix is being implemented.\n\nhttps://www.fastlystatus.com/incident/123", true},
		{"identified", "Fastly is rolling out a fix and we are monitoring.\n\nhttps://www.fastlystatus.com/incident/123", false},
	})
}

// TestBlameReadsProvidersByKindAndTheirStatusPages: a provider named by what it provides, an
// ISP's configuration and someone else's incident page or updates point at a third party;
// a vendor as the subject of a message that links to its status page is relayed; investigating
// with one, escalating to one or asking one is collaboration, and a link to a page's own
// address is where our updates are.
func TestBlameReadsProvidersByKindAndTheirStatusPages(t *testing.T) {
	checkRule(t, blame, []ruleCase{
		{"investigating", "Logins fail after maintenance at our identity provider.", true},
		{"investigating", "Logins fail because of an upstream identity provider.", true},
		{"identified", "ISP configurations are preventing some users from reaching the dashboard.", true},
		{"identified", "Uploads fail. Please follow https://status.examplecdn.com/incidents/1 for more.", true},
		{"identified", "Uploads fail. Live updates from AWS are on their health dashboard.", true},

		{"investigating", "Logins fail. We are investigating the login failures with our hosting provider.", false},
		{"investigating", "Logins fail. We have escalated the issue to our DNS provider.", false},
		{"investigating", "Logins fail. We have asked for a timeline from our hosting provider.", false},
		{"identified", "Uploads fail. Please refer to https://status.example.com/ for updates.", false},
		{"identified", "Fastly is continuing to work on a fix.\n\nhttps://www.fastlystatus.com/incident/123", true},
		{"identified", "Fastly is continuing to work on a fix for Image Optimizer.", false},
	})
}

// TestBlameReadsNoThirdPartyInAQuantity: trouble "from multiple networks" comes from no one
// in particular.
func TestBlameReadsNoThirdPartyInAQuantity(t *testing.T) {
	checkRule(t, blame, []ruleCase{
		{"investigating", "We see MMS delivery failures from multiple networks.", false},
		{"investigating", "We see MMS delivery failures from several carriers' networks.", false},
		{"investigating", "We see payment failures from NIBSS.", true},
	})
}

func TestAMessageThatNamesOneOfTheUpdatesComponentsSaysWhatIsBroken(t *testing.T) {
	const msg = "we are looking into the ledger sync. please retry later."
	cases := []struct {
		name       string
		components []string
		warns      bool
	}{
		{"no components", nil, true},
		{"a component it names", []string{"Billing", "Ledger sync"}, false},
		{"a component it does not name", []string{"Billing"}, true},
		{"a component named only inside a word", []string{"Ledge"}, true},
		{"a blank component", []string{" "}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			warns := slices.ContainsFunc(wording.Check("investigating", msg, tc.components...), func(f wording.Finding) bool { return f.Rule == wording.RuleMissingWhatIsBroken })
			if warns != tc.warns {
				t.Errorf("missing-what-is-broken = %v, want %v", warns, tc.warns)
			}
		})
	}
}

func TestAComponentNamedWithItsGroupIsNamedByEitherPart(t *testing.T) {
	cases := []struct {
		name, msg  string
		components []string
		warns      bool
	}{
		{"the component without its group", "we are looking into http pages. please retry later.",
			[]string{"Hosted Pages / HTTP Pages"}, false},
		{"the group without the component", "we are looking into droplets. please retry later.",
			[]string{"Droplets / Global"}, false},
		{"the whole name", "we are looking into hosted pages / http pages. please retry later.",
			[]string{"Hosted Pages / HTTP Pages"}, false},
		{"a part of a name with three", "we are looking into kivera. please retry later.",
			[]string{"Cloudflare Sites and Services / Cloud App Control / Kivera"}, false},
		{"neither part", "we are looking into this. please retry later.",
			[]string{"Hosted Pages / HTTP Pages"}, true},
		{"a part only inside a word", "we are looking into the pager. please retry later.",
			[]string{"Hosted / Page"}, true},
		{"a slash without spaces is one name", "we are looking into the cache. please retry later.",
			[]string{"CDN/Cache"}, true},
		{"an empty part", "we are looking into this. please retry later.",
			[]string{" / "}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			warns := slices.ContainsFunc(wording.Check("investigating", tc.msg, tc.components...), func(f wording.Finding) bool { return f.Rule == wording.RuleMissingWhatIsBroken })
			if warns != tc.warns {
				t.Errorf("missing-what-is-broken = %v, want %v", warns, tc.warns)
			}
		})
	}
}
