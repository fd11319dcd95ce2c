module github.com/shim-project/shim

go 1.26.8

require (
	github.com/containerd/console v1.0.5
	github.com/opencontainers/runtime-spec v1.3.0 // indirect
	go.uber.org/zap v1.28.0
	golang.org/x/sys v0.50.0
)

require go.uber.org/multierr v1.10.0 // indirect
