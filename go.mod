module github.com/gantry-proxy/gantry

go 1.26
