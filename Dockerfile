# The sample worker fleet's image: nominee-worker and the nominee CLI.
#   docker build -t nominee-worker .      (docker-compose.yml does this)
FROM debian:12 AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      build-essential cmake pkg-config libzookeeper-mt-dev libboost-dev libboost-program-options-dev \
      libboost-system-dev libboost-thread-dev libcpprest-dev libssl-dev nlohmann-json3-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DNOMINEE_BUILD_TESTS=OFF -DNOMINEE_BUILD_BENCH=OFF \
    && cmake --build /build -j "$(nproc)" --target nominee-worker nominee_cli \
    && install -m 755 /build/samples/worker/nominee-worker /build/samples/cli/nominee /usr/local/bin/

FROM debian:12-slim
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libzookeeper-mt2 libboost-program-options1.74.0 libcpprest2.10 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/nominee-worker /usr/local/bin/nominee /usr/local/bin/
# The status endpoint listens on every interface inside the container.
ENV NOMINEE_STATUS=0.0.0.0:8080
EXPOSE 8080
# A worker's /healthz answers 200 while its session is connected (bash's
# /dev/tcp: no HTTP client in the image).
HEALTHCHECK --interval=5s --timeout=3s --retries=6 CMD bash -c \
  'exec 3<>/dev/tcp/127.0.0.1/8080 && printf "GET /healthz HTTP/1.0\r\n\r\n" >&3 && head -n 1 <&3 | grep -q " 200 "'
STOPSIGNAL SIGTERM
ENTRYPOINT ["nominee-worker"]
