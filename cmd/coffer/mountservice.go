package main

import (
	"context"
	"log/slog"
	"os"

	"coffer/daemon"
	"coffer/fs"
	"coffer/metrics"
	"coffer/repo"
)

// service is what a mount tells the world about itself when it runs as a
// service: systemd's notifications and the Prometheus metrics.
type service struct {
	notify  *daemon.Notifier // nil without $NOTIFY_SOCKET
	metrics *metrics.Metrics // nil without --metrics-listen
	r       *repo.Repository
}

// checkServiceFlags refuses a metrics address that is not allowed, before
// anything is opened.
func (f *mountFlags) checkServiceFlags() error {
	if f.metricsListen == "" {
		if f.metricsAllowRemote {
			return usageError{errMetricsRemoteAlone}
		}
		return nil
	}
	if err := metrics.CheckAddress(f.metricsListen, f.metricsAllowRemote); err != nil {
		return usageError{err}
	}
	return nil
}

// startService reads systemd's variables and starts the metrics server,
// which serves until ctx ends.
func (f *mountFlags) startService(ctx context.Context, r *repo.Repository, log *slog.Logger) (*service, error) {
	s := &service{r: r}
	n, err := daemon.NewNotifier(os.Getenv("NOTIFY_SOCKET"), os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid())
	if err != nil {
		log.Warn("the service manager will not hear of the mount", "err", err)
	}
	s.notify = n
	if f.metricsListen != "" {
		s.metrics = metrics.New(r)
		addr, err := s.metrics.Serve(ctx, f.metricsListen, log)
		if err != nil {
			return nil, err
		}
		log.Info("metrics served", "url", "http://"+addr+"/metrics")
	}
	return s, nil
}

// observer times FUSE requests for the metrics; nil without them.
func (s *service) observer() fs.Observer {
	if s.metrics == nil {
		return nil
	}
	return s.metrics.ObserveFUSE
}

// configure sets the daemon's notifier, upload count and observer.
func (s *service) configure(cfg *daemon.Config) {
	cfg.Notify = s.notify
	cfg.Uploaded = func() int64 { return s.r.Counters().Uploaded }
	if s.metrics != nil {
		cfg.Observer = s.metrics
	}
}

// close releases the notification socket.
func (s *service) close() { s.notify.Close() }
