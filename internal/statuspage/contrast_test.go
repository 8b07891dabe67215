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

package statuspage

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// cssColors reads the custom properties (--name: #rrggbb) of one block of the stylesheet.
func cssColors(t *testing.T, block string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-fA-F]{6})`).FindAllStringSubmatch(block, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// contrast is the WCAG 2 contrast ratio of two sRGB colours.
func contrast(a, b string) float64 {
	lum := func(hex string) float64 {
		var c [3]float64
		for i := range c {
			v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
			s := float64(v) / 255
			if s <= 0.03928 {
				c[i] = s / 12.92
			} else {
				c[i] = math.Pow((s+0.055)/1.055, 2.4)
			}
		}
		return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
	}
	la, lb := lum(a), lum(b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

func TestTextColoursMeetWCAGAAContrast(t *testing.T) {
	lightBlock, darkBlock, ok := strings.Cut(styleCSS, "@media (prefers-color-scheme: dark)")
	if !ok {
		t.Fatal("the stylesheet has no dark scheme block")
	}
	light := cssColors(t, lightBlock[:strings.Index(lightBlock, "}")])
	dark := cssColors(t, darkBlock[:strings.Index(darkBlock, "}\n}")])
	// Status colours fall back to the light ones where the dark scheme sets no -fg variant.
	for k, v := range light {
		if _, ok := dark[k]; !ok {
			dark[k] = v
		}
	}
	check := func(scheme string, colors map[string]string, fg, bg string) {
		f, b := colors[fg], colors[bg]
		if f == "" || b == "" {
			t.Errorf("%s: --%s or --%s is not defined", scheme, fg, bg)
			return
		}
		if r := contrast(f, b); r < 4.5 {
			t.Errorf("%s: --%s %s on --%s %s has contrast %.2f, below WCAG AA's 4.5", scheme, fg, f, bg, b, r)
		}
	}
	for _, bg := range []string{"bg", "card"} {
		for _, fg := range []string{"text", "muted", "link"} {
			check("light", light, fg, bg)
			check("dark", dark, fg, bg)
		}
		for _, status := range []string{"ok", "minor", "major", "critical", "maint"} {
			check("light", light, status, bg)
			check("dark", dark, status+"-fg", bg)
		}
	}
	for _, banner := range []string{"ok", "minor", "major", "critical", "maint"} {
		check("light", light, "on-banner", banner)
		check("dark", dark, "on-banner", banner)
	}
}
