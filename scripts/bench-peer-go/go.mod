module hnre/bench-peer-go

go 1.22
