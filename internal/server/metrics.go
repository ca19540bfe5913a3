package server

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/twofold-auth/twofold/internal/auth"
)

// Metrics are twofold's Prometheus metrics.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	logins   *prometheus.CounterVec
	events   *prometheus.CounterVec
	delivery *prometheus.CounterVec
}

// NewMetrics registers twofold's metrics (and the Go and process collectors) with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twofold_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "twofold_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twofold_logins_total", Help: "Password logins by outcome.",
		}, []string{"outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twofold_events_total", Help: "Audit events recorded, by type.",
		}, []string{"type"}),
		delivery: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twofold_deliveries_total", Help: "Message send attempts by channel and outcome (sent, retry, failed).",
		}, []string{"channel", "outcome"}),
	}
	reg.MustRegister(m.requests, m.latency, m.logins, m.events, m.delivery,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) observe(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// Login counts one password login by outcome.
func (m *Metrics) Login(outcome string) { m.logins.WithLabelValues(outcome).Inc() }

// Delivery counts one message send attempt; pass it as auth.Options.OnDelivery.
func (m *Metrics) Delivery(channel, outcome string) {
	m.delivery.WithLabelValues(channel, outcome).Inc()
}

// Event counts one audit event; pass it as auth.Options.OnEvent.
func (m *Metrics) Event(e auth.Event) { m.events.WithLabelValues(e.Type).Inc() }
