# slamlab itself as a container image, for CI systems that prefer images to npm.
# Stage the package with npm on the host, then build on any image with Node 20 or later:
#   npm pack && npm install -g --prefix image/usr/local ./slamlab-*.tgz
#   docker build -t slamlab -f Dockerfile image/
#   docker run --rm -v "$PWD/scenarios:/scenarios" slamlab test /scenarios --junit /scenarios/out/junit.xml
# The model engine needs nothing else. BASE defaults to Node's Debian image; with no registry
# (as in this project's CI) pass the lab image: --build-arg BASE=slamlab-lab:TAG (slamlab images list).
ARG BASE=node:20-bookworm-slim
FROM ${BASE}
COPY usr/local/ /usr/local/
RUN slamlab --version
ENTRYPOINT ["slamlab"]
CMD ["--help"]
