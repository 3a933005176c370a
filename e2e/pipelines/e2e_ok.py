"""e2e: a parameter, values passed between steps through the marshal volume, a fan-in."""

from kale_argo import pipeline, step


@step(name="produce")
def produce(n):
    data = list(range(n))
    print(f"produced {len(data)} numbers")
    return data


@step(name="square")
def square(data):
    return [x * x for x in data]


@step(name="total")
def total(data, squares):
    result = sum(data) + sum(squares)
    print(f"E2E-TOTAL={result}")
    return result


@pipeline(name="e2e-ok", experiment="kale-e2e", marshal_volume_size="64Mi", volume_access_mode="rwo")
def e2e_ok(n=3):
    data = produce(n)
    squares = square(data)
    total(data, squares)


if __name__ == "__main__":
    e2e_ok()
