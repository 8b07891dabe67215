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
	"strings"
	"unicode"
)

// Products are written as names: "CodeQL", "Zoom Chat", "the Fly Dashboard", "MIT SECURE
// Wi-Fi". A message that names one names what customers use, which the symptom patterns
// cannot know, so missing-what-is-broken does not warn about it. The name is read in the
// message as written (the rules read it lower-cased), and these do not count: the first word
// of a sentence, which is capitalized anyway (unless it has a capital inside, "CodeQL");
// names of organizations, vendors, teams, places and times, which are no feature of ours; a
// short all-capital word, which is more often a place ("IAD", "FRA1") than a feature, unless
// it is one of productAcronyms; a name followed by a word for the whole ("Discord services",
// "Zoom components"); a name in a sentence that says it is unaffected ("Webhooks remained
// unaffected"); and addresses.
var (
	nameTokenRe = regexp.MustCompile(`[A-Za-z][A-Za-z0-9&'._-]*[A-Za-z0-9]|[A-Za-z]`)
	urlRe       = regexp.MustCompile(`(?:https?://|www\.)\S+|\S+@\S+`)

	// notProductNames are capitalized words that name no feature: organizations, vendors,
	// teams, places, times and words that are capitalized by habit.
	notProductNames = wordSet(`i we our us you your they the a an this that these those it its all some
		any no not our please update updates note incident incidents issue issues status page
		engineering engineers engineer team teams support operations customer customers user users
		service services platform platforms system systems infrastructure environment environments
		network networks region regions zone zones data center centre datacenter location
		resolved investigating identified monitoring postmortem post-mortem rca
		utc gmt pt pst pdt et est edt ct cst cdt mt mst mdt cet cest bst ist jst aest aedt sgt am pm
		january february march april may june july august september october november december
		monday tuesday wednesday thursday friday saturday sunday
		jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thurs fri sat sun
		north south east west central northern southern eastern western northeast northwest
		southeast southwest mid upper lower
		aws amazon gcp google microsoft azure apple cloudflare fastly akamai digitalocean linode ovh
		hetzner equinix softlayer joyent salesforce sendgrid mailgun twilio github gitlab atlassian
		slack zoom discord reddit figma vercel grafana datadog mongodb hashicorp laravel redis
		newrelic new relic fly.io fly 1password ubiquiti bambu twitch mit is&t letsencrypt let's
		encrypt isp isps carrier carriers provider providers vendor vendors partner partners
		europe european asia asian pacific america americas african africa oceania australia
		canada canadian brazil brazilian india indian japan japanese china chinese germany german
		france french uk britain british ireland irish netherlands dutch spain italy singapore
		korea mexico colombia argentina chile peru bangladesh indonesia philippines vietnam
		thailand malaysia pakistan nigeria kenya egypt israel uae turkey russia ukraine poland
		sweden norway finland denmark switzerland austria belgium portugal
		virginia ohio oregon california texas york jersey washington frankfurt london paris dublin
		amsterdam tokyo osaka seoul sydney melbourne mumbai toronto montreal sao paulo santiago
		atlanta chicago dallas seattle ashburn johannesburg stockholm milan madrid zurich
		hong kong taiwan cloud
		reason outage outages report root cause analysis summary maintenance degradation
		disruption performance availability`)
	// productAcronyms are short all-capital words that name a feature.
	productAcronyms = wordSet(`api apis ui cli sdk sdks sso dns sms mms imap pop smtp vpn cdn sip
		ssl tls mfa 2fa ide rest ci cd ios saml scim oauth ai llm gpu`)
	// wholeWords after a name make it the name of the whole, not of a feature.
	wholeWords = wordSet(`service services component components system systems platform
		platforms customers customer users user team teams engineers infrastructure products
		environment environments region regions status support`)
	// unaffectedSentenceRe in a sentence makes its names what still works.
	unaffectedSentenceRe = regexp.MustCompile(`(?i)\b(?:unaffected|not (?:been )?(?:affected|impacted)|continues? to (?:operate|run|work|function)|remains? (?:available|operational|online))\b`)
)

// namesProduct reports whether the message, as written, names something as a product.
func namesProduct(message string) bool {
	if len(message) > MaxCheckedBytes {
		message = message[:MaxCheckedBytes]
	}
	message = urlRe.ReplaceAllStringFunc(message, blank)
	ms := nameTokenRe.FindAllStringIndex(message, -1)
	for i, m := range ms {
		w := strings.Trim(message[m[0]:m[1]], "'.-_")
		if w == "" || !writtenAsName(w) || sentenceStart(message, m[0]) && !innerCapital(w) {
			continue
		}
		lw := strings.ToLower(w)
		if notProductNames[lw] || notProductNames[strings.TrimSuffix(lw, "'s")] {
			continue
		}
		if allCapitals(w) && len(w) <= 5 && !productAcronyms[lw] {
			continue
		}
		if i+1 < len(ms) && wholeWords[strings.ToLower(message[ms[i+1][0]:ms[i+1][1]])] {
			continue
		}
		if unaffectedSentenceRe.MatchString(sentenceAround(message, m[0], m[1])) {
			continue
		}
		return true
	}
	return false
}

// writtenAsName reports whether a word is capitalized or has a capital inside ("iOS").
func writtenAsName(w string) bool {
	for _, r := range w {
		if unicode.IsUpper(r) {
			return true
		}
	}
	return false
}

// innerCapital reports whether a word has a capital after a small letter ("CodeQL", "iOS"),
// which makes it a name even where a sentence starts.
func innerCapital(w string) bool {
	lower := false
	for _, r := range w {
		if unicode.IsUpper(r) && lower {
			return true
		}
		lower = unicode.IsLower(r)
	}
	return false
}

func allCapitals(w string) bool {
	for _, r := range w {
		if unicode.IsLower(r) {
			return false
		}
	}
	return true
}

// sentenceStart reports whether the word at p starts a sentence, a line, a list item or
// what follows a colon, where words are capitalized whatever they name.
func sentenceStart(s string, p int) bool {
	for i := p - 1; i >= 0; i-- {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '(' || c == '[' || c == '*':
			continue
		case c == '.' || c == '!' || c == '?' || c == ':' || c == ';' || c == '\n' || c == '\r' || c == '-' || c == '>':
			return true
		case c >= 0x80: // a dash, a bullet or a curly quote
			continue
		default:
			return false
		}
	}
	return true
}

// sentenceAround returns the sentence that holds s[start:end].
func sentenceAround(s string, start, end int) string {
	lo, hi := start, end
	for lo > 0 && !strings.ContainsRune(".!?\n", rune(s[lo-1])) {
		lo--
	}
	for hi < len(s) && !strings.ContainsRune(".!?\n", rune(s[hi])) {
		hi++
	}
	return s[lo:hi]
}
