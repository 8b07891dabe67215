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

package wording

import (
	"regexp"
	"slices"
	"strings"
)

// What is broken: a symptom a customer would recognise.
var (
	symptomRe = regexp.MustCompile(`\b(?:in (?:an? |the )?(?:un[a-z]+|bad|broken|failed|error|inconsistent|degraded|pending) state|errors?|erroring|erroneous(?:ly)?|mistaken(?:ly)?|fail(?:s|ed|ing|ures?)?|unavailable|unavailability|unable|inability|cannot|could not|not (?:able|working|loading|responding|available|accessible|receiving|processing|sending|delivered|reachable|updating|running|starting|showing|displaying|appearing|receive|received|load|loaded|work|respond|send|sent|connect|display|sync|synced|save|saved|upload|uploaded|appear|possible)|not [a-z]+ing (?:correctly|properly|as expected)|(?:you|users|customers) (?:are|may be) not (?:seeing|getting)|impossible|incomplete|congest(?:ed|ion)|(?:data|metrics?|packets?|traffic|connections?|calls?|messages?|events?) drops?|sign(?:ed|ing) out|log(?:ged|ging) out|disconnect(?:s|ed|ions?|ing)?|not being \w+|no longer (?:able|working|loading|available)|prevent\w* (?:[\w'-]+ ){0,4}?from|prevent(?:s|ed|ing)? (?:the |some |all )?[a-z]+ing\b|(?:is|are|been|was|were) (?:temporarily )?(?:disabled|paused|suspended|halted|offline)|(?:we|team) (?:have|has|had) (?:temporarily )?(?:disabled|paused|suspended|halted|stopped) (?:new |all |the )?[a-z]+|down|offline|degraded|(?:impacted|reduced|poor) performance|performance (?:issues?|problems?|degradation)|slow(?:ness|er|ly|downs?)?|latenc(?:y|ies)|(?:response|load|queue|wait) times?|delay(?:s|ed)?|timeouts?|tim(?:e|es|ing) out|timed out|intermittent(?:ly)?|unreachable|inaccessible|broken|broke|missing|lost|stuck|backlog(?:ged)?|backed up|backup (?:in|of)|unresponsive|crash(?:es|ed|ing)?|incorrect(?:ly)?|inaccurate|wrong|5\d\d|5xx|packet loss|dropp(?:ed|ing)|rejected|partial(?:ly)? (?:unavailab\w*|available)|inconsistent|stale|duplicate[ds]?|hang(?:s|ing)?|unexpected)\b`)
	// elevatedRe is "elevated" or "increased" with what customers see; "increased load" is
	// the system's trouble, not theirs.
	elevatedRe = regexp.MustCompile(`\b(?:elevated|increased|higher|high) (?:[\w-]+ ){0,2}?(?:errors?|error rates?|latenc\w+|response times?|load times?|timeouts?|failures?|failure rates?|delays?|queue times?|wait times?|bounce rates?|5\d\d|5xx|rejections?)\b`)
	// issueWithRe captures the two words after "issues with" so that vague objects ("some
	// customers", "our platform") do not count as saying what is broken.
	issueWithRe = regexp.MustCompile(`\b(?:issues?|problems?|incident|disruption) (?:with|affecting|impacting|in|for|on|when|accessing|loading|connecting|logging|signing|creating|using|triggering|sending|receiving|running|joining|uploading|downloading|opening|viewing|saving|starting|processing|deploying|pushing|pulling) ([\w'-]+)(?: ([\w'-]+))?`)
	// namedIssueRe captures the word before "issue" ("connection issues", "DNS problems") and
	// the subject of "is having issues" ("your mailbox is still having issues").
	namedIssueRe = regexp.MustCompile(`\b([\w'-]+) (?:issues?|problems?)\b|\b([\w'-]+) (?:is|are|was|were) (?:still )?(?:having|experiencing|seeing) (?:issues|problems|troubles?|errors|difficult\w*)\b`)
	// issueThatRe is "an issue that may impact New Relic UI".
	issueThatRe = regexp.MustCompile(`\b(?:issues?|problems?) (?:that|which) (?:may |might |could |is |are |will )?(?:impact|affect)\w* ([\w'-]+)(?: ([\w'-]+))?`)
	// issueActivityRe captures what an issue gets in the way of: "an issue retrieving call
	// details", "an issue to send notifications", "an issue users are facing when loading
	// comments".
	issueActivityRe = regexp.MustCompile(`\b(?:issues?|problems?) (?:of |to |when |while |(?:[\w'-]+ ){1,3}?(?:is |are )?(?:experiencing|facing|having|seeing|encountering) (?:when|while) )?([a-z]{2,}ing|send|receive|load|access|create|view|retrieve|connect|upload|download|sign|log) ([\w'-]+)`)
	// notActivity are words ending in "ing" that name no activity ("an issue during ...").
	notActivity = wordSet(`being having during nothing something anything everything morning evening ongoing pending
		going causing bring thing`)
	// impactedRe captures what is "impacted" or "affected": "a fix for impacted M0 clusters".
	impactedRe = regexp.MustCompile(`\b(?:impacted|affected) ([\w'-]+)(?: ([\w'-]+))?`)
	// affectingRe is what trouble is "affecting app deploys".
	affectingRe = regexp.MustCompile(`\b(?:affecting|impacting|affects|impacts) ([\w'-]+)(?: ([\w'-]+))?`)
	// impactedSubjectRe is what "is impacted" or "are still affected", read in the words
	// before it: "Domain search and registration are still impacted".
	impactedSubjectRe = regexp.MustCompile(`\b(?:is|are|was|were|has been|have been)(?: still| now| currently| also| partially| being)* (?:impacted|affected|disrupted|interrupted)\b`)
	// abilityRe is "affecting customers' ability to log in".
	abilityRe = regexp.MustCompile(`\b(?:affect|impact)\w* (?:[\w'-]+ ){0,4}?ability to\b`)
	// restoredRe says what works again; it counts only when the clause names what works
	// ("Deploys are working again"), not "everything is back to normal".
	restoredRe = regexp.MustCompile(`\b(?:restored|recovered|back to normal|back online|back up|at normal levels|operating normally|working normally|functioning normally|(?:is|are) (?:now )?operational(?: again)?|operating as expected|working as expected|fully operational|running normally|resumed|caught up|processed normally|succeeding|working again|available again|recovering|recovery (?:in|of|for|across)|improv(?:e|ed|es|ing|ement)|(?:fully |now )?functional(?: again)?|current again|on time|now (?:working|loading|running|available|processing)|(?:delivered|processed|sent|built|completed|loading|building|delivering|sending|syncing|processing)(?: (?:quickly|successfully|normally|again))+|return\w* to normal|re-?enabled|(?:has|have) been (?:successfully )?enabled|(?:has|have) been fixed|fix(?:es)? (?:has|have) been (?:rolled out|deployed|applied)|(?:is|are) (?:now )?back(?: again)?|(?:successfully|normally) (?:received|delivered|processed|sent|completed|loaded|created)|[a-z]+ing as (?:expected|intended|usual)|heal(?:ed|ing)?|(?:starting|beginning) to (?:run|load|work|process|flow|recover)|(?:loading|running|working|flowing|processing) (?:now|again)|stabl(?:e|y)|stabili[sz]ed|(?:should|can) now|(?:should|are|is) (?:now )?able to|able to [\w-]+(?: [\w-]+){0,3}? again)\b`)
	// troubleRe are words for trouble that say something is wrong but not what: they count
	// only next to what is in trouble ("a Slack outage", "disruption to file uploads").
	troubleRe = regexp.MustCompile(`\b(?:outages?|downtime|degradation|disrupt(?:ed|ions?)|interrupt(?:ed|ions?)|troubles?)\b`)
	// notTroubleRe are phrases with a symptom word that say nothing is wrong ("things have
	// settled down", "narrowing down the scope", "slowly coming back").
	notTroubleRe = regexp.MustCompile(`\b(?:settled|calmed|narrow(?:ed|ing)?|track(?:ed|ing)?|wind(?:ing)?|scal(?:ed|ing)) down\b|\bslowly (?:coming|returning|recovering|improving)\b`)
	// troubleObjectRe is what the trouble is to or with ("disruption to file uploads").
	troubleObjectRe = regexp.MustCompile(`^ (?:to|of|with|affecting|impacting|in|for|on)((?: [\w'-]+){1,3})|^ ([a-z]+ing)\b`)
	// monitorForRe is watching for errors, which does not say there are any.
	monitorForRe = regexp.MustCompile(`\bmonitor\w* (?:for|the) (?:any )?(?:further |additional |new )?(?:errors?|issues?|problems?)\b`)
)

// vagueWords name nothing a customer would recognise: determiners, people, the system as a
// whole, and the incident itself.
var vagueWords = wordSet(`some a an all the our your you us we they i this that these those it its them their
	several few many certain multiple customers customer users user accounts account services
	service platform systems system small subset number of limited portion percentage very
	everything things anything every each any no is are was were be been being has have had
	now fully back again to normal should believe looks look seems appear appears and which
	correction fix change changes mitigation deployed implemented made incident situation
	operations operation functionality levels level metrics infrastructure underlying original
	same known ongoing reported related potential possible technical minor major further other
	new previous recent current initial earlier following general larger database backend
	server servers see seeing confirm confirmed indicate recovering returned returning mostly
	largely currently also still able for in on at with by from as expected operating running
	working performing functioning ensure make sure experiencing having reporting one
	affected impacted normally properly correctly again aware investigating continue
	continuing monitor monitoring will may might could can of an partial declared resolved
	slowly gradually coming full root cause signs sign waiting become came come similar
	prevent issue problem problems since until upstream region regions zone zones area
	areas parts environment end start time interval period window capacity mentioned provider
	providers vendor vendors partner partners carrier carriers supplier suppliers aws amazon gcp
	google azure microsoft cloudflare fastly akamai digitalocean linode ovh hetzner equinix
	observing observed noticing noticed bringing brought bring mitigated addressed fixed
	mitigate address fix investigate who whom only just not yet impact amount majority
	minority most brief seen expect operational residual remaining online up cloud success
	rate rates`)

// regionCodeRe is a cloud region's code ("us-east-1", "prod-eu-west-2"): a place, not a
// feature.
var regionCodeRe = regexp.MustCompile(`^[a-z]{2,4}(?:-[a-z]+)+-\d+[a-z]?$`)

// vague reports whether a word names nothing a customer would recognise.
func vague(w string) bool { return vagueWords[w] || regionCodeRe.MatchString(w) }

func wordSet(s string) map[string]bool {
	m := map[string]bool{"": true}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// namesSomething reports whether the words just before or after a match, within its clause,
// include one that is not vague.
func namesSomething(t string, start, end int) bool {
	before := strings.Fields(clauseBefore(t, start))
	if !slices.ContainsFunc(before, func(w string) bool { return !auxiliaries[w] }) {
		// "the queued notifications have been processed and are processing normally": the
		// clause shares the subject of the one before the conjunction.
		before = strings.Fields(sentenceBefore(t, start))
	}
	if len(before) > 6 {
		before = before[len(before)-6:]
	}
	after := strings.Fields(strings.SplitN(clauseAfter(t, end), ",", 2)[0])
	if len(after) > 3 {
		after = after[:3]
	}
	for _, w := range append(before, after...) {
		if !vague(strings.Trim(w, `.,:;!?()'"`)) {
			return true
		}
	}
	return false
}

// subjectNames reports whether the last words of the clause before p, its subject, include
// one that is not vague.
func subjectNames(t string, p int) bool {
	before := strings.Fields(clauseBefore(t, p))
	if len(before) > 3 {
		before = before[len(before)-3:]
	}
	for _, w := range before {
		if !vague(strings.Trim(w, `.,:;!?()'"`)) {
			return true
		}
	}
	return false
}

// auxiliaries are the words between a conjunction and the verb of a clause that shares the
// subject of the clause before it.
var auxiliaries = wordSet(`is are was were has have had been be being now also all still fully`)

// troubleNames reports whether a trouble word is next to what is in trouble: the word just
// before it ("a Slack outage") or the object after it ("disruption to file uploads").
func troubleNames(t string, start, end int) bool {
	before := strings.Fields(clauseBefore(t, start))
	if len(before) > 0 && !vague(strings.Trim(before[len(before)-1], `.,:;!?()'"`)) {
		return true
	}
	m := troubleObjectRe.FindStringSubmatch(t[end:])
	if m == nil {
		return false
	}
	for _, w := range strings.Fields(m[1] + " " + m[2]) {
		if !vague(w) {
			return true
		}
	}
	return false
}

func saysWhatIsBroken(t string) bool {
	t = monitorForRe.ReplaceAllStringFunc(t, blank)
	t = notTroubleRe.ReplaceAllStringFunc(t, blank)
	if symptomRe.MatchString(t) || elevatedRe.MatchString(t) || abilityRe.MatchString(t) {
		return true
	}
	for _, m := range restoredRe.FindAllStringIndex(t, maxMatches) {
		if namesSomething(t, m[0], m[1]) {
			return true
		}
	}
	for _, m := range issueWithRe.FindAllStringSubmatch(t, maxMatches) {
		if !vagueObjects[m[1]] || !vagueObjects[m[2]] {
			return true
		}
	}
	for _, m := range issueThatRe.FindAllStringSubmatch(t, maxMatches) {
		if !vagueObjects[m[1]] || !vagueObjects[m[2]] {
			return true
		}
	}
	// What is affecting ("the outbound email notifications affecting some customers") or
	// affected ("registration is still impacted") names what is broken as much as its object.
	for _, m := range affectingRe.FindAllStringSubmatchIndex(t, maxMatches) {
		if !vagueObjects[t[m[2]:m[3]]] || m[4] >= 0 && !vagueObjects[t[m[4]:m[5]]] || subjectNames(t, m[0]) {
			return true
		}
	}
	for _, m := range impactedSubjectRe.FindAllStringIndex(t, maxMatches) {
		if subjectNames(t, m[0]) {
			return true
		}
	}
	for _, m := range issueActivityRe.FindAllStringSubmatch(t, maxMatches) {
		if !notActivity[m[1]] && !vague(m[2]) {
			return true
		}
	}
	for _, m := range impactedRe.FindAllStringSubmatch(t, maxMatches) {
		if !vague(m[1]) || !vague(m[2]) {
			return true
		}
	}
	for _, m := range troubleRe.FindAllStringIndex(t, maxMatches) {
		if troubleNames(t, m[0], m[1]) {
			return true
		}
	}
	for _, m := range namedIssueRe.FindAllStringSubmatch(t, maxMatches) {
		if w := m[1] + m[2]; !vague(strings.Trim(w, "'")) {
			return true
		}
	}
	return false
}

// blank replaces a match by spaces, keeping offsets.
func blank(s string) string { return strings.Repeat(" ", len(s)) }

var vagueObjects = map[string]bool{
	"some": true, "a": true, "an": true, "all": true, "the": true, "our": true, "your": true,
	"you": true, "us": true, "this": true, "that": true, "it": true, "them": true, "several": true,
	"few": true, "many": true, "certain": true, "multiple": true, "customers": true,
	"customer": true, "users": true, "user": true, "accounts": true, "services": true,
	"service": true, "platform": true, "systems": true, "system": true, "small": true,
	"subset": true, "number": true, "of": true, "limited": true, "portion": true, "percentage": true,
	"very": true, "one": true, "": true,
}

// What is being done: an action of the response. Verbs that also describe impact ("deploy",
// "restore") count only with "we" or the team as the subject.
var doingRe = regexp.MustCompile(`\b(?:investigat\w*|look(?:ing|ed)? into|mitigat\w*|remediat\w*|revert(?:ed|ing)|roll(?:ed|ing)?(?: \w+)? (?:back|out)|rollback|hot ?fix(?:es)?|(?:a|the) (?:fix|patch|work ?around|mitigation|change|rollback|failover)|fix(?:es)? (?:is|are|has|have|was|were|will)|work(?:ing|ed)?(?: hard| actively| closely)? (?:on|to|with|through|towards?|around)|work is (?:underway|ongoing|in progress)|in progress|underway|fail(?:ed|ing)? ?over|failover|monitor(?:ing|ed)?|rerout\w*|scal(?:ed|ing) (?:up|out)|restarting|rebuilding|re-?indexing|keep(?:ing)? an eye on|assess(?:ing|ed)|evaluat(?:ing|ed)|work(?:ing)? in (?:restor|fix|resolv)\w*|(?:made|making) (?:a |some |several )?(?:changes?|adjustments?)|repairs?|focus(?:ed|ing)? (?:is )?on|(?:continu\w+|ongoing) (?:our )?efforts|(?:we are|team is|engineers are) on (?:it|the case)|(?:(?:have|has) been(?: \w+ and)?|(?:is|are)(?: now)?) (?:fixed|corrected|restored|resolved|mitigated|deployed|applied|implemented|rolled back|reverted|isolated|replaced|restarted)|(?:is|are) (?:\w+ly )?being (?:deployed|applied|rolled out|implemented|tested|worked on|investigated)|(?:we|team|teams|engineers) (?:are|have|has|is|will|\w+ly)(?: \w+){0,2}? (?:restor|restart|replac|migrat|rebuild|drain|catch|reprocess|deploy|process|clear|add|increas|disabl|enabl|isolat|block|contact|engag|escalat|tak|appl|implement|fix|patch|provision|remov|reduc|throttl|purg|flush|recover|paus|shift|mov|bring|brought|rebalanc|rotat|contain|stabiliz|repair|debug|diagnos|analyz|review|test|verif|coordinat|correct|address|rectif|scal)(?:e|es|ed|ing|s|y|ied|ying|ies|ged|ging|ted|ting|ped|ping)?|(?:we|team|teams|engineers) (?:have|has) updated (?:the|our) (?:config\w*|settings|routing|dns|certificates?))\b`)

// doneRe is an investigation that has ended ("our investigation has determined"), which
// says what was found, not what is being done.
var (
	doneRe = regexp.MustCompile(`\b(?:our |the )?investigation (?:has |have )?(?:determined|found|revealed|concluded|shown|identified|uncovered|indicates|shows|suggests|points to)\b`)
	// thirdPartyRe as the subject means someone else is doing the work.
	thirdPartyRe = regexp.MustCompile(`\b(?:providers?|vendors?|partners?|suppliers?|carriers?|` + vendorPat + `)\b`)
	// impactVerbRe after "we are" is what the team sees, not what it does ("we are
	// experiencing increased latency").
	impactVerbRe = regexp.MustCompile(`\b(?:experienc\w*|seeing|observ\w*|noticing|detect\w*)\b`)
)

// weRe is the team speaking of itself.
var weRe = regexp.MustCompile(`\b(?:we|our|us)\b`)

// weActRe is the team as the subject of a verb in -ing or -ed ("we are asking our provider",
// "our engineers have rerouted traffic"): what the team does, whatever the verb, unless the
// verb only sees, learns, tells or hopes (notActions).
var weActRe = regexp.MustCompile(`\b(?:we|our (?:[\w-]+ )?(?:team|teams|engineers|engineering)|(?:the |our )?engineers|(?:the |our )?(?:engineering |operations |support |ops )?team) (?:are|is|have|has|had|will be)(?: (?:now|currently|actively|still|also|already|quickly|been|continuing to|begun|started))* ([a-z]+(?:ing|ed))\b`)

// weContinueRe is the team going on with something ("we continue to explore possible
// solutions"), which is work unless the verb only sees, tells or waits (notActions, in the
// base form).
var weContinueRe = regexp.MustCompile(`\b(?:we|our (?:[\w-]+ )?(?:team|teams|engineers)|(?:the )?(?:engineering |operations |support )?team) (?:continue|continues|will continue|are continuing|is continuing) to ([a-z]+)\b`)

// beingDoneRe is work in the passive ("it is being rectified"), unless the verb says what
// customers see (passiveImpacts).
var beingDoneRe = regexp.MustCompile(`\b(?:is|are) (?:\w+ly )?being ([a-z]+ed)\b`)

var passiveImpacts = wordSet(`affected impacted experienced reported observed noticed detected caused delayed
	displayed shown returned served received delivered processed dropped rejected queued
	asked charged billed logged prompted redirected signed`)

// teamWorkRe is work with someone else or on our own systems: "we are in constant
// communication with our upstream", "is applying changes to address it".
var teamWorkRe = regexp.MustCompile(`\bin (?:constant |close |regular |direct |active )?(?:communication|contact|touch) with\b|\b(?:appl(?:y|ies|ied|ying)|implement(?:s|ed|ing)?) (?:a |some |several |the )?(?:changes?|adjustments?|mitigations?)\b`)

// weUpdatedRe is the team updating something, which is work unless it is the page itself
// (notUpdatedObjects).
var weUpdatedRe = regexp.MustCompile(`\b(?:we|team|teams|engineers) (?:have|has|had) updated (?:the |our |this )?([\w-]+)`)

var notUpdatedObjects = wordSet(`status incident page post posts title message information everyone customers
	you users community`)

// untilRe just before an action makes it what has not happened yet: "until service is
// restored".
var untilRe = regexp.MustCompile(`\b(?:until|till)(?: [\w'-]+){0,3} $`)

// monitoringNounRe is monitoring as a thing we have ("our monitoring detected errors"), not
// as work.
var monitoringNounRe = regexp.MustCompile(`\b(?:our|internal|automated|automatic) $`)

var notActions = wordSet(`experiencing seeing observing noticing receiving received getting expecting expected
	hoping hoped identified determined confirmed found discovered detected noticed observed
	aware sorry updated posted provided providing sharing posting reported reporting learned
	learning informed advised seen being experienced encountered encountering facing faced
	continuing beginning starting waiting awaiting considering planning going
	committed pleased happy alerted edited shared operating
	see observe notice receive get expect hope experience provide post share report learn
	wait await consider plan keep be have update inform`)

func saysWhatIsBeingDone(t string) bool {
	t = doneRe.ReplaceAllStringFunc(t, blank)
	if strings.Contains(t, "status") && !weRe.MatchString(t) {
		// A message that relays a vendor's updates and says nothing of us reports the vendor's
		// work, not ours.
		if _, ok := relayedVendor(t); ok {
			return false
		}
	}
	for _, m := range doingRe.FindAllStringIndex(t, maxMatches) {
		before := clauseBefore(t, m[0])
		if !thirdPartyRe.MatchString(before) && !impactVerbRe.MatchString(t[m[0]:m[1]]) && !untilRe.MatchString(before) &&
			!(strings.HasPrefix(t[m[0]:], "monitor") && monitoringNounRe.MatchString(before)) {
			return true
		}
	}
	for _, m := range teamWorkRe.FindAllStringIndex(t, maxMatches) {
		if !thirdPartyRe.MatchString(clauseBefore(t, m[0])) {
			return true
		}
	}
	for _, m := range beingDoneRe.FindAllStringSubmatchIndex(t, maxMatches) {
		before := clauseBefore(t, m[0])
		if !passiveImpacts[t[m[2]:m[3]]] && !thirdPartyRe.MatchString(before) && !untilRe.MatchString(before) {
			return true
		}
	}
	for _, re := range []*regexp.Regexp{weActRe, weContinueRe} {
		for _, m := range re.FindAllStringSubmatch(t, maxMatches) {
			if !notActions[m[1]] {
				return true
			}
		}
	}
	for _, m := range weUpdatedRe.FindAllStringSubmatch(t, maxMatches) {
		if !notUpdatedObjects[m[1]] {
			return true
		}
	}
	return false
}

// What customers can do: advice, a workaround, or an explicit "nothing to do".
var (
	adviceRe = regexp.MustCompile(`\b(?:(?:you|customers|users|developers|admins|administrators|anyone|those|owners)(?: who [\w'-]+(?: [\w'-]+){0,5}?| of [\w'-]+(?: [\w'-]+){0,5}?)? (?:can|should|could|must|may want to|might want to|may need to|will need to|need to|are (?:advised|encouraged|able) to|may (?:retry|try|use|continue to (?:use|work|access|deploy|push|send|run)|re-?run|redeploy|safely|still|proceed|wish))|please [\w'-]+|no (?:known )?work ?arounds?|as a work ?around|work ?arounds? (?:is |are )?(?:available|to|:)|the following work ?arounds?|no (?:customer |further |user |additional )?action (?:is |will be )?(?:required|needed|necessary)|(?:do|does) not need to|no need to|nothing (?:you|customers) need to do|if you (?:are|were|have|had|see|saw|continue|still|notice|experience|need|use|rely|run|received|want|encounter|believe)|retry(?:ing)?|re-?run(?:ning)?|(?:can|may|might|should) (?:still )?(?:be used|help)|after a (?:refresh|reload|restart)|in the meantime,? (?:you|customers|users|[a-z]+ing)|disregard|instead|alternatively|as an alternative|redeploy\w*|contact (?:our )?support|reach out|support ticket|subscribe|we (?:also |strongly |would )?(?:recommend|suggest|advise|encourage)|(?:recommended|suggested) (?:solution|workaround|fix|action|steps?)|work ?arounds?(?: is| are)? ?[:-] ?[a-z]+)\b`)
	// predictionRe follows "customers should" when it says what they will see, not what
	// they should do ("customers should be able to", "should no longer see").
	predictionRe = regexp.MustCompile(`^ (?:now |not |no longer |start |begin |be (?:able|seeing|experiencing|back|unaffected)|see|experience|notice|have)`)
	// notAdvice are the words after "please" that ask for patience or point elsewhere.
	notAdvice = wordSet(`accept bear be stand subscribe follow monitor see refer note excuse forgive pardon know`)
	// imperativeRe is advice as a sentence that starts with a verb ("Use the CLI instead.").
	// remedyRe is advice as what doing something will do: "signing out of the app will
	// resolve these errors".
	remedyRe     = regexp.MustCompile(`(?:^|[.!?;:\n-] ?)[a-z]+ing (?:[\w'-]+ ){0,5}?(?:will|should|may|can|could) (?:resolve|fix|clear|help)\b`)
	imperativeRe = regexp.MustCompile(`(?:^|[.!?;\n] ?)(?:try|use|switch|avoid|restart|reconnect|disable|enable|pause|hold off|consider|clear|log in|sign in|check|monitor your|delay|postpone)\b`)
)

func saysWhatCustomersCanDo(t string) bool {
	if imperativeRe.MatchString(t) || remedyRe.MatchString(t) {
		return true
	}
	for _, m := range adviceRe.FindAllStringIndex(t, maxMatches) {
		q := t[m[0]:m[1]]
		switch {
		case strings.HasPrefix(q, "please "):
			if notAdvice[strings.TrimPrefix(q, "please ")] {
				continue
			}
		case (strings.HasSuffix(q, " should") || strings.HasSuffix(q, " could") || strings.HasSuffix(q, " may still")) && predictionRe.MatchString(t[m[1]:]):
			continue
		}
		return true
	}
	return false
}

// Explicit ETA.
const (
	numPat   = `(?:\d+ ?(?:-|to) ?\d+|\d+(?:[.,]\d+)?|an?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty|forty|forty-five|sixty|ninety|a few|a couple(?: of)?|few|several)`
	unitPat  = `(?:minutes?|mins?|m|hours?|hrs?|h|days?|business days?|weeks?)`
	clockPat = `(?:\d{1,2}(?::\d{2})? ?(?:[ap]\.m\.|[ap]m\b)|\d{1,2}:\d{2}\b(?: ?(?:utc|gmt|[a-z]{1,2}[sd]?t)\b)?|\d{3,4} ?(?:utc|gmt)\b|noon\b|midday\b|midnight\b)`
	dayPat   = `(?:tonight|tomorrow(?: morning| afternoon| evening)?|today|this (?:morning|afternoon|evening|weekend)|(?:the )?end of (?:the )?(?:day|business day|business|week|today)|eod|eow|cob|close of business|monday|tuesday|wednesday|thursday|friday|saturday|sunday|next week|` + datePat + `)\b`
	// datePat is a calendar date: "December 22nd", "22 December".
	datePat  = `(?:` + monthPat + ` \d{1,2}(?:st|nd|rd|th)?|\d{1,2}(?:st|nd|rd|th)? (?:of )?` + monthPat + `)`
	monthPat = `(?:january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)`
)

var (
	// etaPatterns are promises of a fix time; each match is then checked against its clause.
	// A pattern is only run on a text that holds one of its words, so that most updates,
	// which promise nothing, cost a few substring searches.
	etaPatterns = []etaPattern{
		// Deadlines: "by 5pm", "by end of day".
		{[]string{"by ", "before ", "later than "}, regexp.MustCompile(`\b(?:by|before|no later than) (?:about |around |approximately |roughly )?(?:` + clockPat + `|` + dayPat + `)`)},
		// Relative times: "in 30 minutes", "within the next 2 hours", "within the hour".
		{[]string{"in ", "within ", "over "}, regexp.MustCompile(`\b(?:(?:in|within) (?:the next |the coming |about |approximately |around |roughly |~ ?|less than |under |no more than |the next about )?|over (?:the next |the coming ))` + numPat + ` ?` + unitPat + `\b`)},
		{[]string{"within ", "in the "}, regexp.MustCompile(`\b(?:within (?:the|an) (?:hour|day)|(?:in|within) the (?:next|coming) (?:hour|day|few (?:minutes|hours|days)|couple of (?:hours|days)))\b`)},
		// How long the repair takes: "this may take a few hours", "the remaining backlog may
		// take up to 12 hours to clear".
		{[]string{" take "}, regexp.MustCompile(`\b(?:this|it|recovery|the (?:fix|recovery|resolution|rollout|repair|(?:remaining )?(?:backlog|queue))(?: of [\w-]+(?: [\w-]+){0,3}?)?) (?:will|may|might|could|should|can|is expected to) (?:\w+ )?take (?:about |around |approximately |roughly |up to |less than |under )?` + numPat + ` ?` + unitPat + `\b`)},
		// Vague promises tied to a fix: "will shortly be resolved", "back up soon", "expect
		// to resolve the incident shortly".
		{soonWords, regexp.MustCompile(`\b(?:shortly|soon|momentarily|imminently) (?:be )?(?:back|fixed|resolved|restored|online|operational|recovered|available|working)\b`)},
		{soonWords, regexp.MustCompile(`\b(?:back up|back online|back to normal|back|fixed|resolved|restored|recovered|operational|working again|a fix|resolution|recovery|deployed|rolled out|rolling out|released|in place) (?:very )?(?:shortly|soon|momentarily|imminently)\b`)},
		{soonWords, regexp.MustCompile(`\b(?:resolve|fix|restore|recover|complete)[a-z]* (?:the |this |all |full )?(?:[\w-]+ ){0,2}?(?:very )?(?:shortly|soon|momentarily|imminently)\b`)},
	}
	soonWords = []string{"shortly", "soon", "momentarily", "imminently"}
	// etaWordRe is the word itself ("ETA: 30 minutes"); it is no finding when negated
	// ("we do not have an ETA").
	etaWordRe  = regexp.MustCompile(`\b(?:etas?|e\.t\.a|estimated time (?:to|of) (?:resolution|recovery|repair|fix|restoration)|time to (?:resolution|recovery))\b`)
	negationRe = regexp.MustCompile(`\b(?:no|not|without|cannot|unable)\b`)
	// bareTimeRe is a time without "by" or "in"; it is a finding only after an expectation
	// word ("expected resolution: 17:00 UTC", "we estimate 2 hours").
	bareTimeRe = regexp.MustCompile(`(?:\b` + numPat + ` ?` + unitPat + `\b|` + clockPat + `|\b` + dayPat + `)`)
	expectRe   = regexp.MustCompile(`\b(?:expect\w*|anticipat\w*|estimat\w*|on track|target\w*|aim\w*|hope\w*|projected|should be (?:fixed|resolved|restored|back))\b`)

	// updateRe is language about the next communication, which may carry a time.
	updateRe = regexp.MustCompile(`\b(?:(?:next|another|further|an|additional|more|new|status|follow-up|followup|subsequent) updates?|updates? (?:will|to follow|every|at least|again)|update (?:you|this|these|customers|users|here|the status|our status|everyone)|will (?:\w+ )?update|check back|report back|keep you (?:posted|informed|updated)|let you know|(?:more|further|additional) (?:information|details|news)|(?:share|post|provide|communicate|publish) (?:more|again)|(?:share|post|provide|communicate|publish|send) (?:[\w-]+ ){0,3}?(?:details|information)|follow up|next (?:post|communication|notice|message)|post-?mortem|incident (?:report|review)|root cause (?:analysis|statement|report|summary)|rca|retrospective|write-?up|summary|report)\b`)
	// softwareUpdateRe is an update that is deployed, not posted.
	softwareUpdateRe = regexp.MustCompile(`\b(?:deploy(?:ed|ing)?|roll(?:ed|ing)? out|rolling|appl(?:y|ied|ying)|push(?:ed|ing)?|releas(?:e|ed|ing)|install(?:ed|ing)?|ship(?:ped|ping)?|software|firmware|security|kernel|configuration|config|dns) (?:an? |the |this )?(?:[\w-]+ )?updates?\b`)
	// fixWordRe between an update word and the time means the time is about the fix.
	fixWordRe = regexp.MustCompile(`\b(?:expect\w*|anticipat\w*|estimat\w*|fix\w*|resolv\w*|resolution|restor\w*|recover\w*|complet\w*|back (?:up|online|to normal)|mitigat\w*|repair\w*)\b`)
	pastRe    = regexp.MustCompile(`\b(?:was|were|took|lasted|had|began|started|occurred|happened|returned|resumed|noticed|observed|saw|detected|experienced|ago|earlier|previously)\b`)
	// monitorRe before a time makes it the length of the watch, not of the repair.
	monitorRe = regexp.MustCompile(`\bmonitor\w*\b`)
	// retryRe before a time makes it advice on when to try again ("please retry in a few
	// minutes"), not a fix time.
	retryRe = regexp.MustCompile(`\b(?:retry|try again|check back|wait)\b`)
)

// etaPattern is a pattern and the words it cannot match without.
type etaPattern struct {
	words []string
	re    *regexp.Regexp
}

// updateGoverns reports whether the clause before a time is about the next update.
func updateGoverns(before string) bool {
	before = softwareUpdateRe.ReplaceAllStringFunc(before, func(s string) string { return strings.Repeat(" ", len(s)) })
	ms := updateRe.FindAllStringIndex(before, maxMatches)
	if len(ms) == 0 {
		return false
	}
	return !fixWordRe.MatchString(before[ms[len(ms)-1][1]:])
}

func findETA(t string) (string, bool) {
	best, bestAt := "", -1
	consider := func(q string, at int) {
		if bestAt < 0 || at < bestAt {
			best, bestAt = q, at
		}
	}
	promise := func(start, end int) bool {
		if strings.HasPrefix(t[end:], " of ") { // "within 5 minutes of the rollback": a timeline
			return false
		}
		if strings.HasSuffix(t[start:end], "soon") && strings.HasPrefix(t[end:], " as ") { // "as soon as possible"
			return false
		}
		before := clauseBefore(t, start)
		return !updateGoverns(before) && !monitorRe.MatchString(before) && !retryRe.MatchString(before) &&
			!pastRe.MatchString(before+t[start:end]+clauseAfter(t, end))
	}
	for _, p := range etaPatterns {
		if !slices.ContainsFunc(p.words, func(w string) bool { return strings.Contains(t, w) }) {
			continue
		}
		for _, m := range p.re.FindAllStringIndex(t, maxMatches) {
			if promise(m[0], m[1]) {
				consider(t[m[0]:m[1]], m[0])
				break
			}
		}
	}
	for _, m := range etaWordRe.FindAllStringIndex(t, maxMatches) {
		if !negationRe.MatchString(clauseBefore(t, m[0])) && !updateGoverns(clauseBefore(t, m[0])) {
			consider(t[m[0]:m[1]], m[0])
			break
		}
	}
	if !expectRe.MatchString(t) { // a bare time counts only after an expectation word
		return best, bestAt >= 0
	}
	for _, m := range bareTimeRe.FindAllStringIndex(t, maxMatches) {
		before := clauseBefore(t, m[0])
		loc := expectRe.FindStringIndex(before)
		if loc != nil && promise(m[0], m[1]) {
			consider(before[loc[0]:]+t[m[0]:m[1]], m[0])
			break
		}
	}
	return best, bestAt >= 0
}

// Presumed root cause (investigating only).
var (
	causeRe = regexp.MustCompile(`\b(?:caused? by|triggered by|root[- ]cause(?: (?:is|was|appears to be|seems to be|has been (?:identified|traced) as)\b|: ?\w)|(?:stem|stems|stemmed|stemming) from|traced(?: [\w-]+){0,3}? to|attributed to|culprit|the cause (?:is|was|of (?:this|the) (?:issue|incident|outage|problem) (?:is|was))|(?:bug|regression|misconfiguration|defect) in|resulted from|results from|the result of|a result of|due to|because of|(?:is|are|was|were) (?:directly )?(?:related|linked|tied|connected) to|relates? to)\b`)
	// causeObjectRe captures the words after "due to", "because of" and "result of", which
	// often name the incident itself ("due to this issue") rather than a cause.
	causeObjectRe = regexp.MustCompile(`^(?: [\w'-]+){0,3}`)
	hedgeRe       = regexp.MustCompile(`\b(?:may|might|could|possibly|potentially|perhaps|indicat\w*|suggest\w*|preliminary|initial|appears?|appear to|seems?|suspect\w*|believe\w*|likely|unlikely|whether|if|not yet|unknown|unclear|yet to|determin\w*|identify|identifying|understand\w*|confirm\w*|to find|finding|looking for|searching for|hypothes\w*|theory|rul(?:e|ing) out|no evidence|not (?:believed|known|related))\b`)
	// negatedRe just before a cause rules it out ("is not caused by an outage").
	negatedRe           = regexp.MustCompile(`\bnot (?:\w+ )?$`)
	causeUnknownAfterRe = regexp.MustCompile(`^ (?:analysis|is (?:not|still|yet|under|being|unknown)|has not|remains|will be|investigation)\b`)
	// changeCauseRe is a change of ours named as what breaks things ("a recent update is
	// preventing the app from loading", "the rollout of new compute sizes is causing ...").
	changeCauseRe = regexp.MustCompile(`\b(?:an?|the|our) (?:recent |latest |new )?(?:[\w-]+ )?(?:update|deploy\w*|release|rollout|roll-out|upgrade|migration|configuration change|change)\b[^.;]{0,60}?\b(?:is|are|was|has been) (?:causing|preventing|breaking)\b|\bknock-on effect (?:of|from)\b|\b[\w-]+ (?:has |have |had )?caused (?:an?|the|some)\b`)
)

// afterColon returns what follows the last colon: a hedge before it ("an issue which
// potentially impacts customers: a recent deployment is breaking ...") does not reach past it.
func afterColon(s string) string {
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

var incidentWords = map[string]bool{
	"issue": true, "issues": true, "incident": true, "outage": true, "problem": true,
	"problems": true, "degradation": true, "disruption": true, "this": true, "it": true,
	"maintenance": true, "that": true,
}

// vendorRe is a named vendor.
var vendorRe = regexp.MustCompile(`\b` + vendorPat + `\b`)

// providerCauseRe is a third party named as what causes the trouble, which while
// investigating is a presumed cause as much as a "caused by".
var providerCauseRe = regexp.MustCompile(`\b(?:providers?|vendors?|partners?|suppliers?|` + vendorPat + `)\b[^.;]{0,120}?\b(?:(?:is|are|was|were) (?:causing|preventing)|causes|prevents)\b|\b` +
	vendorPat + `(?:'s)?(?: [\w-]+){0,2}? (?:issues?|outages?|disruptions?|incidents?|problems?|failures?)\b[^.;]{0,60}?\b(?:affecting|impacting|causing|preventing)\b`)

func findPresumedCause(t string) (string, bool) {
	for _, re := range []*regexp.Regexp{providerCauseRe, changeCauseRe} {
		for _, m := range re.FindAllStringIndex(t, maxMatches) {
			q := t[m[0]:m[1]]
			// "this issue caused a ..." is impact, not a cause, and "Cloudflare is investigating
			// issues affecting ..." is often the page's own company.
			if !hedgeRe.MatchString(afterColon(clauseBefore(t, m[0]))+q) && !incidentWords[strings.Fields(q)[0]] && !vendorInvestigatesRe.MatchString(q) {
				return q, true
			}
		}
	}
	return firstMatch(causeRe, t, func(start, end int) bool {
		if before := afterColon(clauseBefore(t, start)); hedgeRe.MatchString(before) || negatedRe.MatchString(before) {
			return false
		}
		after := t[end:]
		phrase := t[start:end]
		if strings.Contains(phrase, "cause") && causeUnknownAfterRe.MatchString(after) {
			return false
		}
		if strings.HasPrefix(phrase, "due to") || strings.HasPrefix(phrase, "because of") || strings.HasSuffix(phrase, "result of") {
			object := causeObjectRe.FindString(after)
			// "due to AWS issues" or "due to an issue with an upstream provider" names a cause,
			// not the incident.
			if vendorRe.MatchString(object) || thirdPartyRe.MatchString(clauseAfter(t, end)) {
				return true
			}
			for _, w := range strings.Fields(object) {
				if incidentWords[strings.Trim(w, "'")] {
					return false
				}
			}
		}
		return true
	})
}

// Blame.
const vendorPat = `(?:aws|amazon web services|ec2|s3|gcp|google cloud(?: platform)?|google|microsoft|azure|cloudflare|fastly|akamai|digitalocean|linode|ovh|hetzner|equinix|softlayer|joyent|salesforce|sendgrid|mailgun|twilio)`

var blameRe = regexp.MustCompile(`\b(?:not our fault|(?:their|its|\w+'s) fault|fault (?:of|lies with)|blam(?:e|ed|ing)|(?:beyond|outside(?: of)?) our control|out of our (?:hands|control)|nothing we can do|(?:upstream|downstream|third[- ]party|3rd[- ]party|external|hosting|cloud|infrastructure|network|dns|cdn|data ?cent(?:er|re)|colocation|payment|email|sms|telecom|service) (?:provider|vendor|supplier|carrier|partner|processor)s?|our (?:provider|vendor|supplier|isp|carrier)s?|(?:up|down)stream (?:service|dependency|dependencies|outage|issue|incident|problem|failure|isp|maintenance|change|network)s?|on the (?:carrier|provider|vendor|isp|partner|supplier)(?:'s)? side|(?:isps?|carriers?)(?:-specific| network| configurations?)? (?:issues?|problems?|outages?|failures?|(?:is|are) (?:causing|preventing))|third[- ]party (?:outage|issue|incident|problem|failure|dependency|dependencies)|(?:provider|vendor|supplier|carrier|isp)'s (?:outage|issue|problem|incident|failure|network)|(?:an?|our) (?:vendor|provider|supplier|third[- ]party) (?:issue|outage|problem|incident|failure)s?|(?:monitor|track|follow|watch)\w* (?:the )?(?:their|(?:(?:up|down)stream |third[- ]party )?(?:provider|vendor|partner|supplier|carrier)s?)(?:'s|')? (?:status|updates|announcements?)` +
	`|external to|rather than (?:on )?our|(?:software|services?|providers?|platforms?|products?|tools?) (?:that )?we use\b|they (?:have|had) (?:now )?(?:resolved|fixed|mitigated|restored)|(?:resolved|fixed|mitigated) their (?:issue|outage|problem)s?|an? [\w.-]+ (?:outage|incident|failure) (?:has |have )?(?:caused|affected|impacted) our)\b`)

// vendorBlameRe is a named vendor next to trouble, restoring, reporting or recovering, as
// what caused a change, or as the status page to watch. It is read only when a vendor is
// named (vendorRe), which most updates do not, so that its many alternatives cost nothing
// there.
var vendorBlameRe = regexp.MustCompile(`\b(?:` + vendorPat + `(?:'s)?(?: [\w()-]+){0,3}? (?:down|outages?|incident|issues?|problems?|failures?|degradation|degraded|disruption|anomal(?:y|ies)|unavailable|experiencing|having)|` +
	vendorPat + `(?:'s(?: [\w-]+){1,2}| \([\w-]+\))? (?:is|are|has|have|continues)(?: \w+){0,2}? (?:working to restore|working toward|restoring|implemented mitigation|identified|mitigat|resolv|fix|report|indicat)\w*|` +
	vendorPat + `(?: [\w-]+){0,2}? recover(?:s|ed|ing|y)?\b|(?:caused|triggered|made|introduced) by ` + vendorPat + `|(?:monitor|track|follow|watch)\w* (?:the )?` + vendorPat + `(?: \w+)?(?:'s|')? (?:status|updates|announcements?)|(?:status|updates|announcements?) (?:from|by) ` + vendorPat + `|(?:outage|incident|issues?|problems?|failure|degradation|disruption|latenc(?:y|ies)|response times|packet loss)s? (?:at|with|in|from) (?:our )?` + vendorPat + `)\b`)

// providerKindRe is a provider named by what it provides: "our TLS certificate provider",
// "an upstream model provider". It is read only in a message that names a provider, vendor,
// supplier, carrier, partner or processor.
var providerKindRe = regexp.MustCompile(`\b(?:our (?:[\w-]+ ){1,2}?|(?:upstream|downstream|third[- ]party|3rd[- ]party|external) [\w-]+ )(?:provider|vendor|supplier|isp|carrier|partner|processor)s?\b`)

var providerKinds = []string{"provider", "vendor", "supplier", "isp", "carrier", "partner", "processor"}

// statusLinkRe is someone else's incident on a status page as where to look: "please follow
// https://www.examplestatus.com/incidents/...". A page's own address with no path ("please
// refer to https://status.example.com/ for updates") is not. It is read only in a message
// that says "status".
var statusLinkRe = regexp.MustCompile(`\b(?:follow|refer to|visit|monitor|track|watch)\w* (?:https?://)?[\w.-]*status[\w.-]*\.[a-z]+/\w`)

// A page that links to a vendor's status page ("https://www.cloudflarestatus.com/...") relays
// that vendor's updates, so the vendor as the subject of a sentence ("Cloudflare is
// continuing to work on a fix") is not the page's own company but the source of the trouble.
var (
	statusHostRe    = regexp.MustCompile(`https?://([\w.-]*status[\w.-]*)/`)
	vendorNameRe    = regexp.MustCompile(vendorPat)
	vendorSubjectRe = regexp.MustCompile(`\b` + vendorPat + ` (?:is|are|has|have|continues|reports)\b`)
)

// relayedVendor returns the first sentence subject that is a vendor whose status page the
// message links to.
func relayedVendor(t string) (string, bool) {
	for _, m := range statusHostRe.FindAllStringSubmatch(t, maxMatches) {
		for _, v := range vendorNameRe.FindAllString(m[1], maxMatches) {
			for _, q := range vendorSubjectRe.FindAllString(t, maxMatches) {
				if strings.HasPrefix(q, v) {
					return q, true
				}
			}
		}
	}
	return "", false
}

// fromRe is trouble that comes from someone: "downtime from NIBSS" points at them, "errors
// from our API" does not.
var fromRe = regexp.MustCompile(`\b(?:downtime|outages?|failures?|degradation|disruptions?) from ([\w.-]+)`)

var notAThirdParty = wordSet(`our the a an this that these those its it your you us we maintenance earlier
	yesterday today last multiple several some many various certain other all`)

// withRe before a third party makes it someone the team works with, escalates to or asks,
// not the source.
var withRe = regexp.MustCompile(`\b(?:(?:working|work|works|engaged|engaging|coordinating|investigation|investigating|investigate|monitoring|in contact|in touch|communication)(?: closely| directly| actively)?(?: [\w'-]+){0,3}? (?:with|alongside)|escalat\w*(?: [\w'-]+){0,3}? to|(?:asking|asked|requesting|requested)(?: [\w'-]+){0,4}? (?:to|from|of)) (?:our )?$`)

// vendorInvestigatesRe is a named company looking into or finding trouble, which is often the
// page's own company ("Cloudflare is investigating issues with the Cloudflare Dashboard",
// "Cloudflare has identified an issue impacting Cloudflare Pages").
var vendorInvestigatesRe = regexp.MustCompile(`^` + vendorPat + ` (?:(?:is|are) (?:\w+ )?(?:investigating|looking into|aware of)|(?:has|have) (?:identified|detected) (?:an?|the) (?:issue|problem|incident)|customers|users|accounts)\b`)

// unaffectedRe in the sentence of a third party's trouble says it did not reach us ("Atlas is
// unaffected by the Azure issue"); noImpactRe anywhere says there is no impact to blame on
// anyone.
var (
	unaffectedRe = regexp.MustCompile(`\b(?:unaffected|not (?:been )?(?:affected|impacted))\b`)
	noImpactRe   = regexp.MustCompile(`\b(?:no|not (?:observing|seeing) any) (?:customer|user) impact\b`)
)

func findBlame(t string) (string, bool) {
	if noImpactRe.MatchString(t) {
		return "", false
	}
	matches := blameRe.FindAllStringIndex(t, maxMatches)
	if slices.ContainsFunc(providerKinds, func(w string) bool { return strings.Contains(t, w) }) {
		matches = append(matches, providerKindRe.FindAllStringIndex(t, maxMatches)...)
	}
	if strings.Contains(t, "status") {
		matches = append(matches, statusLinkRe.FindAllStringIndex(t, maxMatches)...)
		if q, ok := relayedVendor(t); ok {
			return q, true
		}
	}
	if vendorRe.MatchString(t) {
		matches = append(matches, vendorBlameRe.FindAllStringIndex(t, maxMatches)...)
	}
	slices.SortFunc(matches, func(a, b []int) int { return a[0] - b[0] })
	for _, m := range matches {
		q := t[m[0]:m[1]]
		sentence := sentenceBefore(t, m[0]) + q + sentenceAfter(t, m[1])
		if !withRe.MatchString(t[max(0, m[0]-64):m[0]]) && !vendorInvestigatesRe.MatchString(q) &&
			!vendorInvestigatesRe.MatchString(strings.TrimSpace(sentenceBefore(t, m[0]))) && !unaffectedRe.MatchString(sentence) {
			return q, true
		}
	}
	for _, m := range fromRe.FindAllStringSubmatch(t, maxMatches) {
		if !notAThirdParty[m[1]] {
			return m[0], true
		}
	}
	return "", false
}
