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

// Package leadergauge reports gauges computed from a manager's cache at scrape time, so they
// are never stale and cost nothing between scrapes. Only the elected leader reports them, so
// that a sum over replicas counts each object once.
package leadergauge

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CollectFunc lists what it reports from r and sends its metrics to ch; now is the
// collector's clock at the scrape.
type CollectFunc func(ctx context.Context, r client.Reader, now time.Time, ch chan<- prometheus.Metric)

// Collector is a prometheus.Collector that reports nothing until it is pointed at a cache
// with Use, and nothing on a replica that does not lead.
type Collector struct {
	descs   []*prometheus.Desc
	collect CollectFunc

	mu      sync.Mutex
	reader  client.Reader
	clock   clock.PassiveClock
	elected <-chan struct{}
}

// New returns a collector of the metrics descs describes, collected by collect.
func New(collect CollectFunc, descs ...*prometheus.Desc) *Collector {
	return &Collector{descs: descs, collect: collect}
}

// Use points the collector at r, a manager's cache, with its clock and elected, which is
// closed once the manager leads. It returns a function that puts back what it replaced.
func (c *Collector) Use(r client.Reader, clk clock.PassiveClock, elected <-chan struct{}) (undo func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	oldR, oldClk, oldElected := c.reader, c.clock, c.elected
	c.reader, c.clock, c.elected = r, clk, elected
	return func() { c.Use(oldR, oldClk, oldElected) }
}

// Describe sends the metrics' descriptions.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect reports the metrics when the collector has a cache and its manager leads.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	r, clk, elected := c.reader, c.clock, c.elected
	c.mu.Unlock()
	if r == nil {
		return
	}
	select {
	case <-elected:
	default:
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.collect(ctx, r, clk.Now(), ch)
}
