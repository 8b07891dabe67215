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

// Command kubectl-incident is the `kubectl incident` plugin: on the PATH under this name,
// kubectl runs it for `kubectl incident ...`. docs/kubectl-incident.md explains it.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"firescope.dev/firescope/internal/plugin"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(plugin.Execute(plugin.NewOptions(streams), os.Args[1:]))
}
