package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"coffer/daemon"
	"coffer/repo"
)

// Source is what the repository counters are read from (*repo.Repository).
type Source interface {
	Counters() repo.Counters
}

// Metrics is one mount's registry. Its methods are safe for concurrent
// use.
type Metrics struct {
	reg *prometheus.Registry

	fuse         *prometheus.HistogramVec
	commits      prometheus.Counter
	lastTime     prometheus.Gauge
	lastDuration prometheus.Gauge
	lastFiles    prometheus.Gauge
	lastStored   prometheus.Gauge
}

var _ daemon.CommitObserver = (*Metrics)(nil)

// New returns a registry reading the repository's counters from src at
// each scrape, with Go's runtime and process metrics beside them.
func New(src Source) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.fuse = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "coffer_fuse_request_duration_seconds",
		Help: "Time to answer a FUSE request, by operation.",
		// From a cached attribute (µs) to a block fetched from a slow
		// store (seconds).
		Buckets: prometheus.ExponentialBuckets(25e-6, 4, 10),
	}, []string{"op"})
	m.commits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "coffer_snapshots_committed_total", Help: "Snapshots this mount committed."})
	m.lastTime = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "coffer_last_snapshot_timestamp_seconds", Help: "Time of the last snapshot this mount committed, Unix seconds."})
	m.lastDuration = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "coffer_last_snapshot_duration_seconds", Help: "How long the last commit took."})
	m.lastFiles = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "coffer_last_snapshot_files", Help: "Files in the last snapshot this mount committed."})
	m.lastStored = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "coffer_last_snapshot_stored_bytes", Help: "Bytes the store received for the last snapshot (since the one before)."})
	m.reg.MustRegister(m.fuse, m.commits, m.lastTime, m.lastDuration, m.lastFiles, m.lastStored,
		repoCollector{src},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is what a handler serves.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveFUSE records one FUSE request (fs.Observer).
func (m *Metrics) ObserveFUSE(op string, took time.Duration) {
	m.fuse.WithLabelValues(op).Observe(took.Seconds())
}

// Committed records a commit (daemon.CommitObserver).
func (m *Metrics) Committed(c daemon.CommitSummary) {
	m.commits.Inc()
	m.lastTime.Set(float64(c.Time.UnixNano()) / 1e9)
	m.lastDuration.Set(c.Took.Seconds())
	m.lastFiles.Set(float64(c.Files))
	m.lastStored.Set(float64(c.Stored))
}

// repoCollector reads the repository's counters at each scrape, so the
// write path keeps its own atomics and nothing is counted twice.
type repoCollector struct{ src Source }

var (
	descWritten = prometheus.NewDesc("coffer_written_bytes_total",
		"File data written to the head, in bytes (before deduplication).", nil, nil)
	descDedup = prometheus.NewDesc("coffer_deduplicated_bytes_total",
		"Of the file data written, bytes already stored, so not stored again.", nil, nil)
	descUploaded = prometheus.NewDesc("coffer_uploaded_bytes_total",
		"Bytes the store accepted (encrypted packs, index, snapshots, records).", nil, nil)
	descObjects = prometheus.NewDesc("coffer_uploaded_objects_total",
		"Objects the store accepted.", nil, nil)
	descErrors = prometheus.NewDesc("coffer_upload_errors_total",
		"Store writes that failed, each attempt counted.", nil, nil)
	descRetries = prometheus.NewDesc("coffer_upload_retries_total",
		"Store writes tried again after a failure.", nil, nil)
	descPending = prometheus.NewDesc("coffer_packs_pending",
		"Sealed packs not yet durable in the store: uploading, retrying or queued.", nil, nil)
	descHits = prometheus.NewDesc("coffer_block_cache_hits_total",
		"Block reads answered from the memory cache.", nil, nil)
	descMisses = prometheus.NewDesc("coffer_block_cache_misses_total",
		"Block reads that had to fetch.", nil, nil)
	descRatio = prometheus.NewDesc("coffer_block_cache_hit_ratio",
		"Hits over all block reads since the mount started (0 before any read).", nil, nil)
	descCacheBytes = prometheus.NewDesc("coffer_block_cache_bytes",
		"Decrypted blocks held in memory.", nil, nil)
)

func (repoCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descWritten, descDedup, descUploaded, descObjects, descErrors,
		descRetries, descPending, descHits, descMisses, descRatio, descCacheBytes} {
		ch <- d
	}
}

func (c repoCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.src.Counters()
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(descWritten, float64(n.Written))
	counter(descDedup, float64(n.Deduplicated))
	counter(descUploaded, float64(n.Uploaded))
	counter(descObjects, float64(n.Objects))
	counter(descErrors, float64(n.UploadErrors))
	counter(descRetries, float64(n.Retries))
	gauge(descPending, float64(n.PacksPending))
	counter(descHits, float64(n.CacheHits))
	counter(descMisses, float64(n.CacheMisses))
	ratio := 0.0
	if total := n.CacheHits + n.CacheMisses; total > 0 {
		ratio = float64(n.CacheHits) / float64(total)
	}
	gauge(descRatio, ratio)
	gauge(descCacheBytes, float64(n.CacheBytes))
}
